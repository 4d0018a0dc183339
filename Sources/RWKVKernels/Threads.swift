import Dispatch
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Parallelism of the kernels: Dispatch workers (one per active core) for the GEMM shares, the
/// per-(sequence, head) recurrence and the element-wise passes; OpenBLAS itself runs single-threaded.
package enum KernelThreads {
    /// Cores the process may use.
    package static let coreCount: Int = {
        #if os(Linux)
        let n = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        let n = ProcessInfoShim.activeProcessorCount
        #endif
        return max(1, n)
    }()

    /// The engine parallelises GEMMs itself (`parallelSgemm`) and runs OpenBLAS single-threaded: OpenBLAS's
    /// own threads spin (sched_yield) between calls and would take a core from the recurrence and the
    /// element-wise passes that run between GEMMs. Measured in one process, alternating: never slower,
    /// up to 1.2x faster at 8x512 on 2 cores. Set once, on first use (process-wide OpenBLAS setting).
    package static func useSingleThreadedBLAS() { _ = blasConfigured }
    private static let blasConfigured: Void = { setBLASThreads(1) }()

    /// Whether the engine splits GEMMs over its workers: yes while OpenBLAS runs single-threaded (as set
    /// on first use). If other code raises OpenBLAS's thread count later (or with Accelerate, which
    /// threads itself), GEMMs are left whole to the BLAS instead of oversubscribing the cores.
    package static var splitsGEMMs: Bool {
        useSingleThreadedBLAS()
        return coreCount > 1 && blasThreads() == 1
    }

    /// Runs `body(worker)` for worker in 0..<count on up to `count` threads and waits.
    /// A single worker runs inline (no dispatch overhead for tiny jobs).
    @inline(__always)
    package static func parallel(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 {
            body(0)
        } else {
            // The workers only touch disjoint parts of buffers the caller owns for the whole call.
            withoutActuallyEscaping(body) { escapable in
                let box = UncheckedBox(escapable)
                DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
            }
        }
    }

    /// Splits 0..<total into `parts` contiguous ranges of nearly equal size.
    @inline(__always)
    package static func range(_ part: Int, of parts: Int, total: Int) -> Range<Int> {
        let lo = total * part / parts
        let hi = total * (part + 1) / parts
        return lo..<hi
    }
}

private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Sets the OpenBLAS thread count (no-op with Accelerate).
package func setBLASThreads(_ n: Int) {
    #if !canImport(Accelerate)
    openblas_set_num_threads(Int32(n))
    #endif
}

/// The OpenBLAS thread count (the core count with Accelerate).
package func blasThreads() -> Int {
    #if canImport(Accelerate)
    return KernelThreads.coreCount
    #else
    return Int(openblas_get_num_threads())
    #endif
}

#if !os(Linux)
import Foundation
enum ProcessInfoShim {
    static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
#else
import Glibc
#endif
