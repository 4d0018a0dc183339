/// Decodes the Python `str` / `bytes` literals of vocabulary lines (`'a\n'`, `b'\x80'`, `"'"`),
/// exactly as the reference's `eval(...)` followed by `.encode('utf-8')` would.
///
/// A hand-written byte scanner: the vocabulary has 65,529 lines and loading must stay in the
/// milliseconds, so no regular expressions and no `String` round trips.
enum PythonLiteral {
    /// Appends the bytes of the literal in `source[start..<end]` (surrounding blanks allowed) to
    /// `output`. Returns nil on success, or a reason for the error message.
    static func decode(
        _ source: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, into output: inout [UInt8]
    ) -> String? {
        var i = start
        var end = end
        while i < end, isBlank(source[i]) { i += 1 }
        while end > i, isBlank(source[end - 1]) { end -= 1 }
        guard i < end else { return "missing token literal" }

        var isBytes = false
        switch source[i] {
        case UInt8(ascii: "b"), UInt8(ascii: "B"):
            isBytes = true
            i += 1
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            i += 1  // u'...' is an ordinary str literal
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            break
        default:
            return "the token must be a quoted Python str or bytes literal"
        }
        guard i < end, source[i] == UInt8(ascii: "'") || source[i] == UInt8(ascii: "\"") else {
            return "the token must be a quoted Python str or bytes literal (raw and f-strings are not supported)"
        }
        let quote = source[i]
        i += 1
        let bodyStart = output.count

        while true {
            guard i < end else { return "unterminated string literal" }
            let byte = source[i]
            if byte == quote {
                i += 1
                break
            }
            if byte != UInt8(ascii: "\\") {
                // Bytes literals may only hold ASCII; str literals take the file's UTF-8 as is.
                if isBytes && byte >= 0x80 { return "bytes literal contains a non-ASCII character" }
                output.append(byte)
                i += 1
                continue
            }
            i += 1
            guard i < end else { return "unterminated string literal" }
            let escape = source[i]
            i += 1
            switch escape {
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""):
                output.append(escape)
            case UInt8(ascii: "a"): output.append(0x07)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "v"): output.append(0x0B)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                // Up to three octal digits.
                var value = UInt32(escape - UInt8(ascii: "0"))
                var digits = 1
                while digits < 3, i < end, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(source[i]) {
                    value = value * 8 + UInt32(source[i] - UInt8(ascii: "0"))
                    i += 1
                    digits += 1
                }
                if isBytes {
                    guard value <= 0xFF else { return "octal escape above \\377 in a bytes literal" }
                    output.append(UInt8(value))
                } else {
                    appendUTF8(value, to: &output)
                }
            case UInt8(ascii: "x"):
                guard let value = hexValue(source, at: i, digits: 2, end: end) else {
                    return "\\x needs exactly two hex digits"
                }
                i += 2
                // In bytes literals \xNN is a raw byte; in str literals it is the code point U+00NN.
                if isBytes { output.append(UInt8(value)) } else { appendUTF8(value, to: &output) }
            case UInt8(ascii: "u") where !isBytes, UInt8(ascii: "U") where !isBytes:
                let digits = escape == UInt8(ascii: "u") ? 4 : 8
                guard let value = hexValue(source, at: i, digits: digits, end: end) else {
                    return "\\\(Character(Unicode.Scalar(escape))) needs exactly \(digits) hex digits"
                }
                i += digits
                guard value <= 0x10FFFF else { return "escape above U+10FFFF" }
                // Python can hold a lone surrogate in a str, but .encode('utf-8') then fails.
                guard !(0xD800...0xDFFF).contains(value) else {
                    return "surrogate code point escape cannot be encoded as UTF-8"
                }
                appendUTF8(value, to: &output)
            case UInt8(ascii: "N") where !isBytes:
                return "\\N{...} escapes are not supported"
            default:
                // Python keeps unknown escapes (and \u, \U, \N in bytes literals) verbatim.
                if isBytes && escape >= 0x80 { return "bytes literal contains a non-ASCII character" }
                output.append(UInt8(ascii: "\\"))
                output.append(escape)
            }
        }
        guard i == end else { return "unexpected text after the closing quote" }
        if !isBytes {
            let invalid = output.withUnsafeBufferPointer { buffer in
                UTF8Validation.firstInvalidOffset(UnsafeBufferPointer(rebasing: buffer[bodyStart...]))
            }
            if invalid != nil { return "the str literal is not valid UTF-8" }
        }
        return nil
    }

    static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    private static func hexValue(
        _ source: UnsafeBufferPointer<UInt8>, at start: Int, digits: Int, end: Int
    ) -> UInt32? {
        guard start + digits <= end else { return nil }
        var value: UInt32 = 0
        for k in start..<start + digits {
            let byte = source[k]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Appends a code point (not a surrogate, at most U+10FFFF) as UTF-8.
    private static func appendUTF8(_ value: UInt32, to output: inout [UInt8]) {
        switch value {
        case 0..<0x80:
            output.append(UInt8(value))
        case 0x80..<0x800:
            output.append(UInt8(0xC0 | value >> 6))
            output.append(UInt8(0x80 | value & 0x3F))
        case 0x800..<0x10000:
            output.append(UInt8(0xE0 | value >> 12))
            output.append(UInt8(0x80 | value >> 6 & 0x3F))
            output.append(UInt8(0x80 | value & 0x3F))
        default:
            output.append(UInt8(0xF0 | value >> 18))
            output.append(UInt8(0x80 | value >> 12 & 0x3F))
            output.append(UInt8(0x80 | value >> 6 & 0x3F))
            output.append(UInt8(0x80 | value & 0x3F))
        }
    }
}
