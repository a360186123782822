extension Duration {
    /// The duration in whole milliseconds (truncated toward zero), the unit of every
    /// libzmq time option and of `zmq_poll`. The one place Metro converts a `Duration`.
    package var inMilliseconds: Int64 {
        let c = components
        return c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
    }
}
