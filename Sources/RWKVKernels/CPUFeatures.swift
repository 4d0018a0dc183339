import RWKVKernelsC

/// The matrix-instruction features of a CPU, read once at run time (cpuid and the OS's saved
/// register state), never assumed at build time.
package struct CPUFeatures: OptionSet, Sendable, CustomStringConvertible {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }

    package static let avx2 = CPUFeatures(rawValue: UInt32(RWKV_CPU_AVX2))
    package static let fma = CPUFeatures(rawValue: UInt32(RWKV_CPU_FMA))
    package static let f16c = CPUFeatures(rawValue: UInt32(RWKV_CPU_F16C))
    package static let avx512f = CPUFeatures(rawValue: UInt32(RWKV_CPU_AVX512F))
    package static let avx512bw = CPUFeatures(rawValue: UInt32(RWKV_CPU_AVX512BW))
    /// int8 dot products accumulated in int32 (`vpdpbusd`): no int16 saturation.
    package static let avx512vnni = CPUFeatures(rawValue: UInt32(RWKV_CPU_AVX512VNNI))
    package static let avxvnni = CPUFeatures(rawValue: UInt32(RWKV_CPU_AVXVNNI))
    /// `vdpbf16ps`.
    package static let avx512bf16 = CPUFeatures(rawValue: UInt32(RWKV_CPU_AVX512BF16))
    package static let amxTile = CPUFeatures(rawValue: UInt32(RWKV_CPU_AMX_TILE))
    package static let amxBF16 = CPUFeatures(rawValue: UInt32(RWKV_CPU_AMX_BF16))
    package static let amxInt8 = CPUFeatures(rawValue: UInt32(RWKV_CPU_AMX_INT8))

    /// This machine's features.
    package static let current = CPUFeatures(rawValue: UInt32(rwkv_cpu_features()))

    private static let names: [(CPUFeatures, String)] = [
        (.avx2, "avx2"), (.fma, "fma"), (.f16c, "f16c"), (.avx512f, "avx512f"), (.avx512bw, "avx512bw"),
        (.avx512vnni, "avx512vnni"), (.avxvnni, "avxvnni"), (.avx512bf16, "avx512bf16"),
        (.amxTile, "amx-tile"), (.amxBF16, "amx-bf16"), (.amxInt8, "amx-int8"),
    ]

    /// e.g. "avx2 fma f16c" ("none" when empty).
    package var description: String {
        let present = Self.names.filter { contains($0.0) }.map(\.1)
        return present.isEmpty ? "none" : present.joined(separator: " ")
    }
}
