extension Duration {
    /// The duration in milliseconds with its fraction (latencies under a millisecond matter).
    var fractionalMilliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
