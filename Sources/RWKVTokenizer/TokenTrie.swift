import Foundation

/// A byte trie over the vocabulary, flattened into a few arrays for greedy longest-match encoding.
///
/// Nodes are numbered breadth first (0 is the root), which keeps the hot shallow nodes together
/// in memory and gives the children of each node consecutive numbers, so a child is found from
/// its label alone: `labels[n]` is the byte that leads into node `n`. A node with many children
/// (the root and most nodes one or two bytes deep) owns a dense 256-entry row of child numbers;
/// the others scan their (sorted) children's labels, almost always fewer than 8. Child number 0
/// means "no child", which works because the root is nobody's child. Built once from the sorted
/// tokens in O(total bytes).
struct TokenTrie: Sendable {
    /// 8 bytes, so that more of the trie stays in cache.
    struct Node: Sendable {
        /// Dense nodes: the offset of their row in `denseChildren`; others: their first child.
        var first: UInt32
        /// Bits 0-16: the id of the token ending here plus one (0: none); bits 17-26: the number
        /// of children; bit 31: the node has a dense row.
        var info: UInt32

        static let tokenMask: UInt32 = 0x1FFFF
        static let denseBit: UInt32 = 1 << 31

        var tokenID: Int32 { Int32(info & Self.tokenMask) - 1 }
        var childCount: Int { Int(info >> 17 & 0x3FF) }
        var isDense: Bool { info & Self.denseBit != 0 }
    }

    /// Nodes with more children than this get a dense row.
    static let denseThreshold = 8

    let nodes: [Node]
    let labels: [UInt8]
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

        // Pass 2: renumber breadth first and flatten the child lists into dense rows or label runs.
        let nodeCount = tokenID.count
        var queue: [Int32] = [0]  // old numbers in new order: queue[new] = old
        queue.reserveCapacity(nodeCount)
        var nodes: [Node] = []
        nodes.reserveCapacity(nodeCount)
        var labels: [UInt8] = [0]
        labels.reserveCapacity(nodeCount)
        var denseChildren: [UInt32] = []
        var head = 0
        while head < queue.count {
            let old = Int(queue[head])
            head += 1
            let children = childCount[old]
            let firstNew = UInt32(queue.count)
            var child = firstChild[old]
            while child >= 0 {
                queue.append(child)
                labels.append(label[Int(child)])
                child = nextSibling[Int(child)]
            }
            var info = UInt32(bitPattern: tokenID[old] + 1) | UInt32(children) << 17
            var first = firstNew
            if children > Self.denseThreshold {
                info |= Node.denseBit
                first = UInt32(denseChildren.count)
                denseChildren.append(contentsOf: repeatElement(0, count: 256))
                for k in 0..<UInt32(children) {
                    denseChildren[Int(first) + Int(labels[Int(firstNew + k)])] = firstNew + k
                }
            }
            nodes.append(Node(first: first, info: info))
        }
        self.nodes = nodes
        self.labels = labels
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
        for child in Int(entry.first)..<Int(entry.first) + entry.childCount where labels[child] == byte {
            return UInt32(child)
        }
        return 0
    }

    /// Greedy longest match over `input`, appending one id per token to `output`.
    ///
    /// Requires every single byte to be a token (``WorldTokenizer`` checks this before using the
    /// trie): the root is then dense with row offset 0 and each step consumes at least one byte.
    func encode(_ input: UnsafeBufferPointer<UInt8>, into output: inout [Int]) {
        let inputCount = input.count
        guard inputCount > 0 else { return }
        // Ids go through a small fixed buffer: appending them one by one to `output` costs a
        // uniqueness and capacity check per token.
        let chunk = 2048
        withUnsafeTemporaryAllocation(of: Int.self, capacity: chunk) { pending in
        nodes.withUnsafeBufferPointer { nodes in
        labels.withUnsafeBufferPointer { labels in
        denseChildren.withUnsafeBufferPointer { dense in
            var pendingCount = 0
            var position = 0
            while position < inputCount {
                // The first byte always matches (root row, offset 0).
                var node = Int(dense[Int(input[position])])
                var index = position &+ 1
                var bestID = nodes[node].info & Node.tokenMask
                var bestEnd = index
                while index < inputCount {
                    let byte = input[index]
                    let entry = nodes[node]
                    var next: UInt32 = 0
                    if entry.info & Node.denseBit != 0 {
                        next = dense[Int(entry.first) &+ Int(byte)]
                    } else {
                        // Sorted labels: stop at the first one not below `byte`.
                        var child = Int(entry.first)
                        let end = child &+ Int(entry.info >> 17 & 0x3FF)
                        while child < end {
                            let candidate = labels[child]
                            if candidate >= byte {
                                if candidate == byte { next = UInt32(truncatingIfNeeded: child) }
                                break
                            }
                            child &+= 1
                        }
                    }
                    if next == 0 { break }
                    node = Int(next)
                    index &+= 1
                    let id = nodes[node].info & Node.tokenMask
                    if id != 0 {
                        bestID = id
                        bestEnd = index
                    }
                }
                pending[pendingCount] = Int(bestID) &- 1
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
    }
}
