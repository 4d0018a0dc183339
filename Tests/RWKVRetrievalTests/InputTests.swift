import Foundation
import Testing
import RWKVRetrieval
import RWKVTestSupport

/// Reading documents from files, directories, JSONL and standard input (no models needed).
@Suite struct InputTests {
    @Test func filesDirectoriesAndGlobs() throws {
        let dir = try TemporaryDirectory()
        try dir.write("docs/a.txt", "alpha")
        try dir.write("docs/sub/b.md", "beta")
        try dir.write("docs/sub/skip.log", "log")
        try dir.write("docs/.hidden/c.txt", "hidden")
        try dir.write("docs/drafts/d.txt", "draft")
        try dir.write("single.txt", "single")
        let root = dir.url.path
        let all = try DocumentInputs.read([root + "/docs", root + "/single.txt"])
        #expect(all.map(\.id) == ["a.txt", "drafts/d.txt", "sub/b.md", "sub/skip.log"].map { root + "/docs/" + $0 } + [root + "/single.txt"])
        #expect(all[0].text == "alpha")
        #expect(all[0].metadata == #"{"path":"\#(root)/docs/a.txt"}"#)
        let filtered = try DocumentInputs.read([root + "/docs"], options: .init(include: ["*.txt", "*.md"], exclude: ["drafts"]))
        #expect(filtered.map(\.text) == ["alpha", "beta"])
        #expect(throws: RetrievalError.invalidInput("\(root)/missing: no such file or directory")) {
            try DocumentInputs.read([root + "/missing"])
        }
        try Data([0xFF, 0xFE, 0x00]).write(to: dir.path("bin.dat"))
        #expect(throws: RetrievalError.self) { try DocumentInputs.read([root + "/bin.dat"]) }
    }

    @Test func jsonl() throws {
        let dir = try TemporaryDirectory()
        try dir.write("d.jsonl", """
            {"id": "a", "text": "Text A", "title": "Title", "metadata": {"lang": "en", "n": 2}}

            {"id": 7, "text": "Seven"}
            {"text": "No id"}
            """)
        let docs = try DocumentInputs.read([dir.path("d.jsonl").path])
        #expect(docs.count == 3)
        #expect(docs[0] == Document(id: "a", text: "Title Text A", metadata: #"{"lang":"en","n":2}"#))
        #expect(docs[1].id == "7")
        #expect(docs[2].id == Document.contentID("No id"))
        for (line, error) in [(#"{"id": "x"}"#, "missing or non-string \"text\""), ("not json", "invalid JSON"),
                              (#"[1, 2]"#, "expected a JSON object with \"text\""), (#"{"text": "t", "title": 3}"#, "\"title\" must be a string")] {
            try dir.write("bad.jsonl", #"{"text": "fine"}"# + "\n" + line + "\n")
            let path = dir.path("bad.jsonl").path
            #expect(throws: RetrievalError.invalidInput("\(path):2: \(error)")) { try DocumentInputs.read([path]) }
        }
    }

    @Test func standardInput() throws {
        let text = try DocumentInputs.read(["-"], standardInput: { Data("just some text\n".utf8) })
        #expect(text == [Document(text: "just some text\n")])
        let jsonl = try DocumentInputs.read(["-"], standardInput: { Data(#"  {"id": "s", "text": "from stdin"}"#.utf8) })
        #expect(jsonl == [Document(id: "s", text: "from stdin")])
        let forced = try DocumentInputs.read(["-"], options: .init(format: .text), standardInput: { Data(#"{"id": 1}"#.utf8) })
        #expect(forced.map(\.text) == [#"{"id": 1}"#])
        #expect(throws: RetrievalError.invalidInput("<stdin>:1: invalid JSON")) {
            try DocumentInputs.read(["-"], options: .init(format: .jsonl), standardInput: { Data("{oops".utf8) })
        }
    }

    @Test func sha256KnownAnswers() {
        // Content ids keep their version-1 values (the first 16 hex digits of SHA-256, now from swift-crypto).
        #expect(Document.contentID("") == "sha256:e3b0c44298fc1c14")
        #expect(Document.contentID("abc") == "sha256:ba7816bf8f01cfea")
        #expect(Document.contentID(String(repeating: "a", count: 1000)) == "sha256:41edece42d63e8d9")
    }
}
