import Foundation

/// A byte trie over the vocabulary as a double array, for greedy longest-match encoding.
///
/// Each node is one 8-byte `Unit` in a flat array. The child of the node in cell `s` for byte
/// `c` is cell `t = units[s].base + c`, present exactly when `units[t].check == c + 1`. Every
/// node has its own base (bases are unique), so the label alone identifies the parent. A step
/// of the match is thus a single load, whose result already holds the next base and the token
/// id, rather than a chain of loads through child lists. Leaves have base 0, which no inner node
/// uses; cells 0..<256 are therefore never the child of a leaf.
///
/// Built once: the sorted tokens give a linked trie in O(total bytes), whose nodes are placed
/// breadth first (hot shallow nodes end up close together) at the first base where all their
/// children's cells are free.
struct TokenTrie: Sendable {
    struct Unit: Sendable {
        /// Where this node's children start (0 for leaves).
        var base: Int32
        /// The id of the token ending at this node plus one; 0 when no token ends here.
        var token: UInt16
        /// The byte leading into this node plus one; 0 for free cells and the root.
        var check: UInt16
    }

    let units: [Unit]
    /// The root's base: the single-byte prefixes live at `rootBase + byte`.
    let rootBase: Int

    /// Builds the trie. When two tokens have the same bytes the later one in file order wins, as in
    /// the reference (its bytes-to-id dictionary keeps the last id).
    init(vocabulary: Vocabulary) {
        let count = vocabulary.count
        let order: [Int] = vocabulary.bytes.withUnsafeBufferPointer { bytes in
            let base = bytes.baseAddress
            let boundaries = vocabulary.boundaries
            return (0..<count).sorted { a, b in
                let lengthA = boundaries[a + 1] - boundaries[a]
                let lengthB = boundaries[b + 1] - boundaries[b]
                let common = min(lengthA, lengthB)
                let order = common == 0 ? 0 : memcmp(base! + boundaries[a], base! + boundaries[b], common)
                if order != 0 { return order < 0 }
                if lengthA != lengthB { return lengthA < lengthB }
                return a < b
            }
        }

        // Pass 1: a linked trie (first child / next sibling). Tokens arrive sorted, so a new child
        // always sorts after its existing siblings and is appended at the end of the list.
        var tokenID: [Int32] = [-1]
        var label: [UInt8] = [0]
        var firstChild: [Int32] = [-1]
        var lastChild: [Int32] = [-1]
        var nextSibling: [Int32] = [-1]
        var childCount: [Int] = [0]
        let estimate = vocabulary.bytes.count / 3
        tokenID.reserveCapacity(estimate)
        label.reserveCapacity(estimate)
        firstChild.reserveCapacity(estimate)
        lastChild.reserveCapacity(estimate)
        nextSibling.reserveCapacity(estimate)
        childCount.reserveCapacity(estimate)
        var path: [Int32] = [0]  // path[d]: node of the previous token's first d bytes
        var previous = ArraySlice<UInt8>()
        for index in order {
            let token = vocabulary.tokenBytes(atIndex: index)
            var common = 0
            let limit = min(token.count, previous.count)
            while common < limit,
                  token[token.startIndex + common] == previous[previous.startIndex + common] {
                common += 1
            }
            path.removeSubrange((common + 1)...)
            for depth in common..<token.count {
                let parent = Int(path[depth])
                let child = Int32(tokenID.count)
                tokenID.append(-1)
                label.append(token[token.startIndex + depth])
                firstChild.append(-1)
                lastChild.append(-1)
                nextSibling.append(-1)
                childCount.append(0)
                if lastChild[parent] < 0 {
                    firstChild[parent] = child
                } else {
                    nextSibling[Int(lastChild[parent])] = child
                }
                lastChild[parent] = child
                childCount[parent] += 1
                path.append(child)
            }
            tokenID[Int(path[token.count])] = Int32(vocabulary.ids[index])
            previous = token
        }

        // Pass 2: place the nodes in the double array, breadth first.
        var builder = DoubleArrayBuilder(capacity: tokenID.count + tokenID.count / 4 + 512)
        var queue: [(node: Int32, cell: Int32)] = [(0, 0)]
        queue.reserveCapacity(tokenID.count)
        var labels: [Int] = []
        var head = 0
        while head < queue.count {
            let (node, cell) = queue[head]
            head += 1
            builder.units[Int(cell)].token = UInt16(truncatingIfNeeded: tokenID[Int(node)] + 1)
            labels.removeAll(keepingCapacity: true)
            var child = firstChild[Int(node)]
            while child >= 0 {
                labels.append(Int(label[Int(child)]))
                child = nextSibling[Int(child)]
            }
            guard !labels.isEmpty else { continue }
            let base = builder.place(labels)
            builder.units[Int(cell)].base = Int32(base)
            child = firstChild[Int(node)]
            for label in labels {
                queue.append((child, Int32(base + label)))
                child = nextSibling[Int(child)]
            }
        }
        units = builder.finish()
        rootBase = Int(units[0].base)
    }

    /// The byte values that have no single-byte token (empty for a usable vocabulary).
    var missingSingleBytes: [UInt8] {
        (0...255).compactMap { (byte: Int) -> UInt8? in
            let unit = units[rootBase + byte]
            return unit.check == UInt16(byte) + 1 && unit.token != 0 ? nil : UInt8(byte)
        }
    }

    /// Greedy longest match over `input`, appending one id per token to `output`.
    ///
    /// Requires every single byte to be a token (``WorldTokenizer`` checks this before using the
    /// trie), so the first byte always matches and each step consumes at least one byte.
    func encode(_ input: UnsafeBufferPointer<UInt8>, into output: inout [Int]) {
        let inputCount = input.count
        guard inputCount > 0 else { return }
        let rootBase = self.rootBase
        // Ids go through a small fixed buffer: appending them one by one to `output` costs a
        // uniqueness and capacity check per token.
        let chunk = 2048
        withUnsafeTemporaryAllocation(of: Int.self, capacity: chunk) { pending in
        units.withUnsafeBufferPointer { units in
            var pendingCount = 0
            var position = 0
            while position < inputCount {
                var unit = units[rootBase &+ Int(input[position])]
                var index = position &+ 1
                var best = unit.token
                var bestEnd = index
                while index < inputCount {
                    let byte = input[index]
                    // In bounds: the array extends 256 cells past the largest base.
                    let next = units[Int(unit.base) &+ Int(byte)]
                    if next.check != UInt16(byte) &+ 1 { break }
                    unit = next
                    index &+= 1
                    if next.token != 0 {
                        best = next.token
                        bestEnd = index
                    }
                }
                pending[pendingCount] = Int(best) &- 1
                pendingCount &+= 1
                if pendingCount == chunk {
                    output.append(contentsOf: pending)
                    pendingCount = 0
                }
                position = bestEnd
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: pending[..<pendingCount]))
        }
        }
    }
}

/// Finds free bases for the double array. Free cells are tracked with a "next free cell"
/// union-find (path halving), so that full stretches of the array are skipped in near O(1).
private struct DoubleArrayBuilder {
    var units: [TokenTrie.Unit]
    /// `nextFree[p] == p` when cell `p` is free; otherwise a cell to continue the search from.
    private var nextFree: [Int32]
    private var baseUsed: [Bool]
    private var largestBase = 0
    private var searchStart = 1

    init(capacity: Int) {
        units = []
        nextFree = []
        baseUsed = []
        grow(to: max(capacity, 1024))
        take(0)  // the root
    }

    private mutating func grow(to capacity: Int) {
        let old = units.count
        guard capacity > old else { return }
        units.append(contentsOf: repeatElement(TokenTrie.Unit(base: 0, token: 0, check: 0), count: capacity - old))
        nextFree.append(contentsOf: (old..<capacity).lazy.map { Int32($0) })
        baseUsed.append(contentsOf: repeatElement(false, count: capacity - old))
    }

    private mutating func take(_ cell: Int) {
        nextFree[cell] = Int32(cell + 1)
    }

    private mutating func firstFree(atOrAfter start: Int) -> Int {
        var cell = start
        while true {
            if cell + 256 >= units.count { grow(to: (cell + 256) * 2) }
            let next = Int(nextFree[cell])
            if next == cell { return cell }
            let skip = Int(nextFree[next < nextFree.count ? next : cell])
            nextFree[cell] = Int32(skip)  // path halving
            cell = skip
        }
    }

    /// Chooses an unused base >= 1 whose cells `base + label` are all free, and takes them.
    /// `labels` are sorted and distinct.
    mutating func place(_ labels: [Int]) -> Int {
        let first = labels[0]
        // Start past the crowded region where earlier searches kept failing (holes there mostly
        // clash with used bases or with the other labels).
        let start = firstFree(atOrAfter: max(searchStart, first + 1))
        var cell = start
        var attempts = 0
        while true {
            attempts += 1
            let base = cell - first
            var fits = !baseUsed[base]
            if fits {
                for label in labels.dropFirst() {
                    let candidate = base + label
                    if candidate + 256 >= units.count { grow(to: (candidate + 256) * 2) }
                    if nextFree[candidate] != Int32(candidate) {
                        fits = false
                        break
                    }
                }
            }
            if fits {
                baseUsed[base] = true
                largestBase = max(largestBase, base)
                for label in labels {
                    take(base + label)
                    units[base + label].check = UInt16(label + 1)
                }
                // Like darts: once a searched stretch is nearly full (or yields too many failed
                // candidates), later searches skip it. Costs ~15% unused cells, keeps building
                // in the milliseconds.
                if attempts * 20 <= cell - start + 1 || attempts > 16 {
                    searchStart = cell
                }
                return base
            }
            cell = firstFree(atOrAfter: cell + 1)
        }
    }

    /// The units, cut to 256 cells past the largest base so that any `base + byte` is in bounds.
    mutating func finish() -> [TokenTrie.Unit] {
        return Array(units.prefix(largestBase + 256))
    }
}
