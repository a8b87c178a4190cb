/// What an `OutboundQueue` entry sends.
enum OutboundPayload {
    /// Caller's bytes, kept alive (unmutated) by the entry.
    case bytes([UInt8])
    /// Bytes in the owner's staging buffer, starting at the entry's `start`.
    case staged
    /// Bytes in a buffer the owner lent to one send (a receive buffer,
    /// echoed without a copy), from `base + start`; only ever the sole
    /// entry when queued, and restaged (`restageHead`) if that send
    /// leaves some unsent.
    case lent(UnsafeRawPointer)
    /// A half-close (`shutdown(SHUT_WR)`) once everything before it is sent.
    case shutdown
}
