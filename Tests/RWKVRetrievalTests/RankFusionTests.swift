import Testing
import RWKVRetrieval

@Suite struct RankFusionTests {
    @Test func scoresAreSumsOfReciprocalRanks() {
        let fused = RankFusion.reciprocalRank([["a", "b", "c"], ["c", "a", "d"]])
        #expect(fused.map(\.id) == ["a", "c", "b", "d"])
        let score = Dictionary(uniqueKeysWithValues: fused.map { ($0.id, $0.score) })
        #expect(abs(score["a"]! - (1.0 / 61 + 1.0 / 62)) < 1e-15)
        #expect(abs(score["c"]! - (1.0 / 63 + 1.0 / 61)) < 1e-15)
        #expect(abs(score["b"]! - 1.0 / 62) < 1e-15)
        #expect(abs(score["d"]! - 1.0 / 63) < 1e-15)
        let k1 = RankFusion.reciprocalRank([["x", "y"]], k: 1)
        #expect(k1.map(\.score) == [0.5, 1.0 / 3])
    }

    @Test func tiesFollowTheFirstListOrder() {
        // x and y both rank first once: x (list 0) comes first; then p and q, tied at rank 2, list order.
        let fused = RankFusion.reciprocalRank([["x", "p"], ["y", "q"]])
        #expect(fused.map(\.id) == ["x", "y", "p", "q"])
        #expect(fused[0].score == fused[1].score)
        // The same on every run and with any hash seed: order depends only on the inputs.
        for _ in 0..<20 {
            #expect(RankFusion.reciprocalRank([[3, 1, 2], [2, 3, 1], [1, 2, 3]]).map(\.id) == [3, 1, 2])
        }
    }

    @Test func duplicatesAndEmptyLists() {
        #expect(RankFusion.reciprocalRank([[Int]]()).isEmpty)
        #expect(RankFusion.reciprocalRank([[], [7]]).map(\.id) == [7])
        // A repeated id counts once, at its best rank.
        let fused = RankFusion.reciprocalRank([["a", "a", "b"]])
        #expect(fused.map(\.id) == ["a", "b"])
        #expect(fused[1].score == 1.0 / 63)
    }
}
