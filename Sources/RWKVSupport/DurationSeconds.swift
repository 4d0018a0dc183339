extension Duration {
    /// The duration in seconds as a Double (timings, rates, deadlines).
    package var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// The duration in milliseconds as a Double.
    package var milliseconds: Double { seconds * 1000 }

    /// Whole milliseconds, truncated (the `x-*-time` response headers).
    package var wholeMilliseconds: Int64 {
        let parts = components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }
}
