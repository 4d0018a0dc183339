import RWKVCheckpoint

/// Deterministic benchmark text: paragraphs of English prose, Chinese and Japanese text and
/// source code, mixed by a seeded generator so that every run (and the pyrwkv comparison)
/// tokenizes exactly the same bytes.
enum BenchmarkText {
    static func generate(bytes target: Int, seed: UInt64 = 0x7E57_7E47) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        var text = ""
        text.reserveCapacity(target + 4096)
        while text.utf8.count < target {
            switch rng.next() % 8 {
            case 0...3: english(into: &text, using: &rng)
            case 4, 5: cjk(into: &text, using: &rng)
            default: code(into: &text, using: &rng)
            }
            text += "\n\n"
        }
        // Cut at a character boundary so that the text stays valid UTF-8.
        var utf8 = Array(text.utf8.prefix(target))
        while let last = utf8.last, last & 0xC0 == 0x80 || last >= 0xC0 { utf8.removeLast() }
        return utf8
    }

    private static let words = """
        the of and to in a is that for it as was with be by on not he this are or his from at \
        which but have an they you were her she there been one all we their has would when if \
        more no out so said what up its about into than them can only other new some could time \
        these two may then do first any my now such like our over man me even most made after \
        also did many before must through back years where much your way well down should \
        because each just those people how too little state good very make world still own see \
        men work long get here between both life being under never day same another know while \
        last might us great old year off come since against go came right used take three \
        retrieval embedding model state document query vector search index cache token layer
        """.split(separator: " ").map(String.init)

    private static func english(into text: inout String, using rng: inout SeededGenerator) {
        for _ in 0..<(3 + rng.next() % 5) {
            let length = 6 + Int(rng.next() % 14)
            for k in 0..<length {
                var word = words[Int(rng.next() % UInt64(words.count))]
                if k == 0 { word = word.prefix(1).uppercased() + word.dropFirst() }
                text += word
                if k < length - 1 { text += rng.next() % 9 == 0 ? ", " : " " }
            }
            text += [". ", "! ", "? ", ". ", ". ", "; "][Int(rng.next() % 6)]
            if rng.next() % 7 == 0 { text += "(\(rng.next() % 10_000)) " }
        }
    }

    private static let hanzi = Array("""
        的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面\
        而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把\
        性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质\
        气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活\
        设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则\
        任取据处理府研质检索嵌入模型状态文档查询向量搜索缓存
        """)
    private static let kana = Array("のはにをがとでもからまでですますしたいるあるこれそれ検索する状態文書ベクトル")
    private static let punctuation = Array("，。、；：？！「」")

    private static func cjk(into text: inout String, using rng: inout SeededGenerator) {
        let japanese = rng.next() % 4 == 0
        for _ in 0..<(2 + rng.next() % 5) {
            for _ in 0..<(8 + rng.next() % 30) {
                if japanese && rng.next() % 2 == 0 {
                    text.append(kana[Int(rng.next() % UInt64(kana.count))])
                } else {
                    text.append(hanzi[Int(rng.next() % UInt64(hanzi.count))])
                }
                if rng.next() % 12 == 0 { text.append(punctuation[Int(rng.next() % UInt64(punctuation.count))]) }
            }
            text += japanese ? "。" : (rng.next() % 3 == 0 ? "！" : "。")
        }
    }

    private static let identifiers = [
        "tokenizer", "state", "embedding", "index", "count", "buffer", "result", "value", "query",
        "document", "scores", "layer", "weights", "offset", "length", "cache", "batch", "ids",
    ]

    private static func code(into text: inout String, using rng: inout SeededGenerator) {
        func name(_ rng: inout SeededGenerator) -> String { identifiers[Int(rng.next() % UInt64(identifiers.count))] }
        let a = name(&rng), b = name(&rng), c = name(&rng)
        switch rng.next() % 3 {
        case 0:
            text += """
                def \(a)_\(b)(\(c), n=\(rng.next() % 100)):
                    \"\"\"Return the \(b) of \(c).\"\"\"
                    out = []
                    for i in range(len(\(c))):
                        if \(c)[i] > \(rng.next() % 1000):  # skip small values
                            out.append(\(c)[i] * 2)
                    return {"\(a)": out, "n": n}
                """
        case 1:
            text += """
                func \(a)(_ \(b): [Int], \(c): inout [Float]) throws -> Int {
                    guard !\(b).isEmpty else { throw Error.empty }
                    var total = 0
                    for (i, x) in \(b).enumerated() where x % \(1 + rng.next() % 16) == 0 {
                        \(c)[i] += Float(x) * 0.\(rng.next() % 1000)
                        total &+= x
                    }
                    return total
                }
                """
        default:
            text += """
                const \(a) = async (\(b)) => {
                  const res = await fetch(`/api/\(c)?limit=\(rng.next() % 500)`);
                  if (!res.ok) throw new Error(`HTTP ${res.status}`);
                  return (await res.json()).\(b).map((x) => x.\(c) ?? null);
                };
                """
        }
    }
}
