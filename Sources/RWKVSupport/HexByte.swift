/// Two lowercase hex digits of `byte` (token bytes, error messages, JSON escapes).
package func hexByte(_ byte: UInt8) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
