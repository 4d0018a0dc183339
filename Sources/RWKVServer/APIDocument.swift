import Foundation
import Hummingbird

/// The OpenAPI 3.1 document of every route (`Resources/openapi.json`, checked in and the contract the
/// client tests and schemathesis hold the server to) and the offline `/docs` page that renders it
/// (`Resources/docs.html`: plain HTML and JavaScript, no CDN).
enum APIDocument {
    static let openAPI: [UInt8] = load("openapi.json")
    static let docsPage: [UInt8] = load("docs.html")

    /// The resource bundle next to the executable (or test bundle), else `Bundle.module` (asked last: on
    /// Linux it aborts the process when its bundle is gone).
    private static func load(_ fileName: String) -> [UInt8] {
        let bundleName = "swift-rwkv-emb_RWKVServer"
        var candidates = [
            Bundle.main.bundleURL.appendingPathComponent("\(bundleName).resources/\(fileName)"),
            Bundle.main.bundleURL.appendingPathComponent("\(bundleName).bundle/Contents/Resources/\(fileName)"),
        ]
        for bundle in Bundle.allBundles {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("\(bundleName).resources/\(fileName)"))
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }),
           let data = FileManager.default.contents(atPath: found.path) {
            return Array(data)
        }
        let name = (fileName as NSString).deletingPathExtension
        let ext = (fileName as NSString).pathExtension
        if let url = Bundle.module.url(forResource: name, withExtension: ext), let data = FileManager.default.contents(atPath: url.path) {
            return Array(data)
        }
        return Array("resource \(fileName) is missing from this build".utf8)
    }
}

/// `GET /api-doc/openapi.json` and `GET /docs` (TEI's paths).
struct DocsRoutes: Sendable {
    func register(on router: Router<BasicRequestContext>) {
        router.get("/api-doc/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(bytes: APIDocument.openAPI)))
        }
        router.get("/docs") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: APIDocument.docsPage)))
        }
    }
}
