import Testing

/// The server suites that ran under XCTest, where classes ran one after another: nested here they
/// still do (each starts its own servers; run side by side on 2 cores, request deadlines were missed).
@Suite(.serialized) enum SerialServerSuites {}
