import Foundation
import RWKVHub

extension HubEnvironment {
    /// The hub settings of this process's environment (`HF_HOME`, `HF_HUB_OFFLINE`, ...). The CLI reads
    /// the environment; the library only takes the dictionary (issue 15: libraries do not look around).
    static var current: HubEnvironment { HubEnvironment(ProcessInfo.processInfo.environment) }
}
