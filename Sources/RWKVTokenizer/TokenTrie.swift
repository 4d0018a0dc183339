import Foundation

/// A byte trie over the vocabulary, flattened into a few arrays for greedy longest-match encoding.
///
/// Nodes are numbered in pre-order (0 is the root). A node with many children (the root and most
/// nodes one or two bytes deep) owns a dense 256-entry row of child numbers; the rest keep their
/// children as a sorted run of (label, child) edges that is scanned linearly (almost all have
/// fewer than 8). Child number 0 means "no child", which works because the root is nobody's child.
/// Built once from the sorted tokens in O(total bytes), with no per-node allocation.
struct TokenTrie: Sendable {
    struct Node: Sendable {
        /// The token id ending at this node, or -1.
        var tokenID: Int32
        /// Dense nodes: the offset of their row in `denseChildren`; others: their first edge.
        var first: UInt32
        var childCount: UInt16
        var isDense: Bool
    }

    /// Nodes with more children than this get a dense row.
    static let denseThreshold = 8

    let nodes: [Node]
    let edgeLabels: [UInt8]
    let edgeTargets: [UInt32]
    let denseChildren: [UInt32]

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

        // Pass 2: flatten the child lists into dense rows or sorted edge runs.
        let nodeCount = tokenID.count
        var nodes: [Node] = []
        nodes.reserveCapacity(nodeCount)
        var edgeLabels: [UInt8] = []
        var edgeTargets: [UInt32] = []
        edgeLabels.reserveCapacity(nodeCount)
        edgeTargets.reserveCapacity(nodeCount)
        var denseChildren: [UInt32] = []
        for node in 0..<nodeCount {
            let children = childCount[node]
            if children > Self.denseThreshold {
                let row = denseChildren.count
                denseChildren.append(contentsOf: repeatElement(0, count: 256))
                var child = firstChild[node]
                while child >= 0 {
                    denseChildren[row + Int(label[Int(child)])] = UInt32(child)
                    child = nextSibling[Int(child)]
                }
                nodes.append(Node(tokenID: tokenID[node], first: UInt32(row), childCount: UInt16(children), isDense: true))
            } else {
                let first = edgeLabels.count
                var child = firstChild[node]
                while child >= 0 {
                    edgeLabels.append(label[Int(child)])
                    edgeTargets.append(UInt32(child))
                    child = nextSibling[Int(child)]
                }
                nodes.append(Node(tokenID: tokenID[node], first: UInt32(first), childCount: UInt16(children), isDense: false))
            }
        }
        self.nodes = nodes
        self.edgeLabels = edgeLabels
        self.edgeTargets = edgeTargets
        self.denseChildren = denseChildren
    }

    /// The byte values that have no single-byte token (empty for a usable vocabulary).
    var missingSingleBytes: [UInt8] {
        (0...255).compactMap { (byte: Int) -> UInt8? in
            let child = child(of: 0, byte: UInt8(byte))
            return child != 0 && nodes[Int(child)].tokenID >= 0 ? nil : UInt8(byte)
        }
    }

    private func child(of node: Int, byte: UInt8) -> UInt32 {
        let entry = nodes[node]
        if entry.isDense { return denseChildren[Int(entry.first) + Int(byte)] }
        for edge in Int(entry.first)..<Int(entry.first) + Int(entry.childCount) where edgeLabels[edge] == byte {
            return edgeTargets[edge]
        }
        return 0
    }

    /// Greedy longest match over `input`, appending one id per token to `output`.
    ///
    /// Requires every single byte to be a token (checked when the tokenizer is built), so each
    /// step consumes at least one byte.
    func encode(_ input: UnsafeBufferPointer<UInt8>, into output: inout [Int]) {
        let inputCount = input.count
        guard inputCount > 0 else { return }
        nodes.withUnsafeBufferPointer { nodes in
        edgeLabels.withUnsafeBufferPointer { labels in
        edgeTargets.withUnsafeBufferPointer { targets in
        denseChildren.withUnsafeBufferPointer { dense in
            var position = 0
            while position < inputCount {
                var node = 0
                var index = position
                var bestEnd = position + 1
                var bestID: Int32 = -1
                while index < inputCount {
                    let byte = input[index]
                    let entry = nodes[node]
                    var next: UInt32 = 0
                    if entry.isDense {
                        next = dense[Int(entry.first) &+ Int(byte)]
                    } else {
                        var edge = Int(entry.first)
                        let end = edge &+ Int(entry.childCount)
                        while edge < end {
                            let candidate = labels[edge]
                            if candidate >= byte {
                                if candidate == byte { next = targets[edge] }
                                break
                            }
                            edge &+= 1
                        }
                    }
                    if next == 0 { break }
                    node = Int(next)
                    index &+= 1
                    let id = nodes[node].tokenID
                    if id >= 0 {
                        bestID = id
                        bestEnd = index
                    }
                }
                output.append(Int(bestID))
                position = bestEnd
            }
        }
        }
        }
        }
    }
}
