/// Fusing ranked candidate lists (dense and lexical) into one.
public enum RankFusion {
    /// Reciprocal rank fusion (Cormack et al. 2009): score(d) = Σ over the lists holding d of
    /// 1 / (k + rank), rank from 1; k = 60 as in the paper and in Elasticsearch/OpenSearch. Sorted by
    /// score descending; ties keep the order of first appearance (list 0 in order, then the new ids of
    /// list 1, ...), so the result never depends on hashing. An id repeated within one list counts once,
    /// at its best rank.
    public static func reciprocalRank<ID: Hashable>(_ lists: [[ID]], k: Double = 60) -> [(id: ID, score: Double)] {
        var index: [ID: Int] = [:]
        var ids: [ID] = []
        var scores: [Double] = []
        for list in lists {
            var seenHere = Set<ID>()
            for (position, id) in list.enumerated() where seenHere.insert(id).inserted {
                let contribution = 1.0 / (k + Double(position + 1))
                if let i = index[id] {
                    scores[i] += contribution
                } else {
                    index[id] = ids.count
                    ids.append(id)
                    scores.append(contribution)
                }
            }
        }
        let order = ids.indices.sorted { a, b in scores[a] != scores[b] ? scores[a] > scores[b] : a < b }
        return order.map { (ids[$0], scores[$0]) }
    }
}
