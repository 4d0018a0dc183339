/// A whitelisting interpreter for the pickle programs that `torch.save` writes for a state dict
/// (protocol 2). It builds plain values and never calls into arbitrary code: unknown opcodes and
/// globals are errors, and the stack, marks and memo are bounded so hostile input cannot exhaust memory.

/// The callables a state dict may name (`GLOBAL module name`); nothing else is accepted.
enum PickleGlobal: Equatable {
    case orderedDict
    case rebuildTensor
    case rebuildParameter
    case storageType(TensorDType)

    init(module: String, name: String) throws {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", _):
            guard let dtype = TensorDType(torchStorageName: name) else {
                throw CheckpointError.unsupportedPickleGlobal(module: module, name: name)
            }
            self = .storageType(dtype)
        default: throw CheckpointError.unsupportedPickleGlobal(module: module, name: name)
        }
    }
}

/// `('storage', torch.XStorage, key, location, numel)`: a storage kept in `data/<key>` of the archive.
struct StorageReference: Equatable {
    var dtype: TensorDType
    var key: String
    var elementCount: Int
}

/// The arguments of `_rebuild_tensor_v2`: a strided view into a storage (offsets and strides in elements).
struct TensorReference: Equatable {
    var storage: StorageReference
    var storageOffset: Int
    var shape: [Int]
    var strides: [Int]
}

/// Containers live in the machine's arena and values refer to them by index: values stay flat,
/// so no input, however deeply nested, can make building or freeing them recurse. Lists and dicts
/// are mutable in pickle (APPEND/SETITEM act on a memoized object), which indices model exactly.
struct PickleArena {
    var tuples: [[PickleValue]] = []
    var lists: [[PickleValue]] = []
    var dicts: [[(key: String, value: PickleValue)]] = []
}

enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple(Int)
    case list(Int)
    case dict(Int)
    case global(PickleGlobal)
    case storage(StorageReference)
    case tensor(TensorReference)

    var kindName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global: "global"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

struct PickleMachine {
    static let maximumStackDepth = 1 << 20
    static let maximumMemoCount = 1 << 22
    static let maximumStringLength = 1 << 20

    /// Runs `program` to its STOP and returns the value it leaves, with the containers it refers to.
    static func run(_ program: UnsafeRawBufferPointer) throws -> (value: PickleValue, arena: PickleArena) {
        var machine = PickleMachine(program: program)
        let value = try machine.execute()
        return (value, machine.arena)
    }

    private let program: UnsafeRawBufferPointer
    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var arena = PickleArena()

    private init(program: UnsafeRawBufferPointer) { self.program = program }

    // Every opcode consumes at least one byte, so the loop ends within program.count steps.
    private mutating func execute() throws -> PickleValue {
        while position < program.count {
            let opcodeOffset = position
            let opcode = program[position]
            position += 1
            switch opcode {
            case 0x80: // PROTO
                let version = try readByte()
                guard version >= 2 && version <= 5 else { throw CheckpointError.malformedPickle("pickle protocol \(version)") }
            case 0x2e: // STOP
                guard let result = stack.popLast(), stack.isEmpty, marks.isEmpty else {
                    throw CheckpointError.malformedPickle("STOP with \(stack.count) values on the stack")
                }
                return result
            case 0x7d: try push(newDict())              // EMPTY_DICT
            case 0x5d: arena.lists.append([]); try push(.list(arena.lists.count - 1))  // EMPTY_LIST
            case 0x29: try push(newTuple([]))           // EMPTY_TUPLE
            case 0x28: // MARK
                guard marks.count < Self.maximumStackDepth else { throw CheckpointError.malformedPickle("too many marks") }
                marks.append(stack.count)
            case 0x4e: try push(.none)                  // NONE
            case 0x88: try push(.bool(true))            // NEWTRUE
            case 0x89: try push(.bool(false))           // NEWFALSE
            case 0x4b: try push(.int(Int(try readByte())))                       // BININT1
            case 0x4d: try push(.int(try readLittleEndian(2, signed: false)))    // BININT2
            case 0x4a: try push(.int(try readLittleEndian(4, signed: true)))     // BININT
            case 0x8a: // LONG1
                let length = Int(try readByte())
                guard length <= 8 else { throw CheckpointError.malformedPickle("an integer of \(length) bytes") }
                try push(.int(length == 0 ? 0 : try readLittleEndian(length, signed: true)))
            case 0x47: // BINFLOAT (big-endian double)
                try push(.float(Double(bitPattern: try readBigEndian8())))
            case 0x58: try push(.string(try readString(length: try readLittleEndian(4, signed: false)))) // BINUNICODE
            case 0x8c: try push(.string(try readString(length: Int(try readByte()))))                    // SHORT_BINUNICODE
            case 0x74: try push(newTuple(try popToMark()))          // TUPLE
            case 0x85: try push(newTuple(try pop(1)))               // TUPLE1
            case 0x86: try push(newTuple(try pop(2)))               // TUPLE2
            case 0x87: try push(newTuple(try pop(3)))               // TUPLE3
            case 0x61: // APPEND
                let item = try pop(1)
                arena.lists[try listIndex(on: try top())].append(contentsOf: item)
            case 0x65: // APPENDS
                let items = try popToMark()
                arena.lists[try listIndex(on: try top())].append(contentsOf: items)
            case 0x73: // SETITEM
                let pair = try pop(2)
                try setItems(pair, into: try top())
            case 0x75: // SETITEMS
                let items = try popToMark()
                guard items.count % 2 == 0 else { throw CheckpointError.malformedPickle("SETITEMS with an odd number of values") }
                try setItems(items, into: try top())
            case 0x71: try memoize(Int(try readByte()))                              // BINPUT
            case 0x72: try memoize(try readLittleEndian(4, signed: false))           // LONG_BINPUT
            case 0x68: try push(try recall(Int(try readByte())))                     // BINGET
            case 0x6a: try push(try recall(try readLittleEndian(4, signed: false)))  // LONG_BINGET
            case 0x63: // GLOBAL
                let module = try readLine()
                let name = try readLine()
                try push(.global(try PickleGlobal(module: module, name: name)))
            case 0x51: // BINPERSID
                let identifier = try pop(1)[0]
                try push(.storage(try storageReference(identifier)))
            case 0x52: // REDUCE
                let pair = try pop(2)
                try push(try reduce(pair[0], pair[1]))
            case 0x62: // BUILD: only the attribute state of an OrderedDict (`_metadata`), which is dropped
                let state = try pop(1)[0]
                guard case .dict = try top(), case .dict = state else {
                    throw CheckpointError.unsupportedPickleOpcode(opcode: opcode, offset: opcodeOffset)
                }
            default:
                throw CheckpointError.unsupportedPickleOpcode(opcode: opcode, offset: opcodeOffset)
            }
        }
        throw CheckpointError.truncated(what: "data.pkl (no STOP opcode)")
    }

    // MARK: Stack

    private mutating func push(_ value: PickleValue) throws {
        guard stack.count < Self.maximumStackDepth else { throw CheckpointError.malformedPickle("the stack exceeds \(Self.maximumStackDepth) values") }
        stack.append(value)
    }

    private mutating func pop(_ count: Int) throws -> [PickleValue] {
        let floor = marks.last ?? 0
        guard stack.count - floor >= count else { throw CheckpointError.malformedPickle("stack underflow at byte \(position - 1)") }
        let values = Array(stack.suffix(count))
        stack.removeLast(count)
        return values
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw CheckpointError.malformedPickle("no MARK before byte \(position - 1)") }
        let values = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return values
    }

    private func top() throws -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else {
            throw CheckpointError.malformedPickle("stack underflow at byte \(position - 1)")
        }
        return value
    }

    private mutating func newTuple(_ items: [PickleValue]) -> PickleValue {
        arena.tuples.append(items)
        return .tuple(arena.tuples.count - 1)
    }

    private mutating func newDict() -> PickleValue {
        arena.dicts.append([])
        return .dict(arena.dicts.count - 1)
    }

    private func listIndex(on value: PickleValue) throws -> Int {
        guard case let .list(index) = value else { throw CheckpointError.malformedPickle("APPEND to a \(value.kindName)") }
        return index
    }

    private mutating func setItems(_ items: [PickleValue], into target: PickleValue) throws {
        guard case let .dict(dict) = target else { throw CheckpointError.malformedPickle("SETITEM on a \(target.kindName)") }
        var index = 0
        while index + 1 < items.count {
            guard case let .string(key) = items[index] else {
                throw CheckpointError.malformedPickle("a dict key of type \(items[index].kindName) (state dict keys are strings)")
            }
            arena.dicts[dict].append((key, items[index + 1]))
            index += 2
        }
    }

    private mutating func memoize(_ index: Int) throws {
        guard index < Self.maximumMemoCount else { throw CheckpointError.malformedPickle("memo index \(index)") }
        guard memo.count < Self.maximumMemoCount || memo[index] != nil else { throw CheckpointError.malformedPickle("memo overflow") }
        memo[index] = try top()
    }

    private func recall(_ index: Int) throws -> PickleValue {
        guard let value = memo[index] else { throw CheckpointError.malformedPickle("memo entry \(index) read before it was written") }
        return value
    }

    // MARK: Operands

    private mutating func readByte() throws -> UInt8 {
        guard position < program.count else { throw CheckpointError.truncated(what: "data.pkl") }
        defer { position += 1 }
        return program[position]
    }

    private mutating func readLittleEndian(_ length: Int, signed: Bool) throws -> Int {
        guard length <= program.count - position else { throw CheckpointError.truncated(what: "data.pkl") }
        var value: UInt64 = 0
        for index in 0..<length { value |= UInt64(program[position + index]) << (8 * UInt64(index)) }
        position += length
        if signed && length < 8 && value & (1 << (8 * UInt64(length) - 1)) != 0 {
            value |= ~0 << (8 * UInt64(length))  // sign-extend
        }
        return signed ? Int(Int64(bitPattern: value)) : Int(truncatingIfNeeded: value)
    }

    private mutating func readBigEndian8() throws -> UInt64 {
        guard 8 <= program.count - position else { throw CheckpointError.truncated(what: "data.pkl") }
        var value: UInt64 = 0
        for index in 0..<8 { value = value << 8 | UInt64(program[position + index]) }
        position += 8
        return value
    }

    private mutating func readString(length: Int) throws -> String {
        guard length <= Self.maximumStringLength else { throw CheckpointError.malformedPickle("a string of \(length) bytes") }
        guard length <= program.count - position else { throw CheckpointError.truncated(what: "data.pkl") }
        defer { position += length }
        return String(decoding: UnsafeRawBufferPointer(rebasing: program[position..<position + length]), as: UTF8.self)
    }

    private mutating func readLine() throws -> String {
        let start = position
        while position < program.count, program[position] != 0x0a {
            guard position - start < 256 else { throw CheckpointError.malformedPickle("a GLOBAL name longer than 256 bytes") }
            position += 1
        }
        guard position < program.count else { throw CheckpointError.truncated(what: "data.pkl") }
        defer { position += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: program[start..<position]), as: UTF8.self)
    }

    // MARK: The few calls a state dict makes

    private func storageReference(_ identifier: PickleValue) throws -> StorageReference {
        guard case let .tuple(tuple) = identifier, case let parts = arena.tuples[tuple], parts.count == 5,
              case .string("storage") = parts[0], case let .global(.storageType(dtype)) = parts[1],
              case let .string(key) = parts[2], case .string = parts[3], case let .int(count) = parts[4], count >= 0
        else { throw CheckpointError.malformedPickle("a persistent id that is not ('storage', type, key, location, numel)") }
        return StorageReference(dtype: dtype, key: key, elementCount: count)
    }

    private mutating func reduce(_ callable: PickleValue, _ arguments: PickleValue) throws -> PickleValue {
        guard case let .global(function) = callable, case let .tuple(tuple) = arguments else {
            throw CheckpointError.malformedPickle("REDUCE of a \(callable.kindName) with \(arguments.kindName) arguments")
        }
        let args = arena.tuples[tuple]
        switch function {
        case .orderedDict:
            guard args.isEmpty else { throw CheckpointError.malformedPickle("OrderedDict with arguments") }
            return newDict()
        case .rebuildTensor:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count >= 4, case let .storage(storage) = args[0], case let .int(offset) = args[1], offset >= 0,
                  let shape = intTuple(args[2]), let strides = intTuple(args[3]), shape.count == strides.count
            else { throw CheckpointError.malformedPickle("unexpected arguments to _rebuild_tensor_v2") }
            return .tensor(TensorReference(storage: storage, storageOffset: offset, shape: shape, strides: strides))
        case .rebuildParameter:
            guard let first = args.first, case .tensor = first else {
                throw CheckpointError.malformedPickle("unexpected arguments to _rebuild_parameter")
            }
            return first
        case .storageType:
            throw CheckpointError.malformedPickle("a storage type called directly")
        }
    }

    private func intTuple(_ value: PickleValue) -> [Int]? {
        guard case let .tuple(tuple) = value else { return nil }
        var result: [Int] = []
        for item in arena.tuples[tuple] {
            guard case let .int(number) = item, number >= 0 else { return nil }
            result.append(number)
        }
        return result
    }
}
