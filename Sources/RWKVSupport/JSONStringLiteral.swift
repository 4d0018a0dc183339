/// `text` as a JSON string literal, for JSON written by hand (safetensors headers, `tokenize --json`):
/// quotes, backslashes and control characters escaped (DEL too, so that the text is safe on a terminal),
/// everything else as is (JSON is UTF-8).
package func jsonStringLiteral(_ text: String) -> String {
    var output = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": output += "\\\""
        case "\\": output += "\\\\"
        case "\n": output += "\\n"
        case "\r": output += "\\r"
        case "\t": output += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            output += "\\u00" + hexByte(UInt8(scalar.value))
        default: output.unicodeScalars.append(scalar)
        }
    }
    return output + "\""
}
