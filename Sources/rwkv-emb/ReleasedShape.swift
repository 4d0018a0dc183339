import ArgumentParser
import RWKVCheckpoint

/// The released model shapes, for random weights (benchmarks and load tests without a checkpoint).
enum ReleasedShape: String, ExpressibleByArgument, CaseIterable {
    case tiny, base, large

    var architecture: ModelArchitecture {
        switch self {
        case .tiny: .tiny
        case .base: .base
        case .large: .large
        }
    }
}
