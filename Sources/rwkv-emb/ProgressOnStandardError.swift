import Foundation
import RWKVHub

extension ProgressReporter {
    /// Download progress on standard error: a bar when it is a terminal, lines at every 10% otherwise.
    static func standardError() -> ProgressReporter {
        ProgressReporter(interactive: isatty(STDERR_FILENO) != 0,
                         write: { text in FileHandle.standardError.write(Data(text.utf8)) })
    }
}
