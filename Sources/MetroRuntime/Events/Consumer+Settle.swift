import MetroKit

extension Consumer {
    /// Ends a delivery that can never succeed, with `reason`: dead-letter it now.
    ///
    /// SEAM until branch `reject` (spec D: broker REJECT, `Consumer.reject(_:reason:)`)
    /// is merged: a NAK without delay, so the broker dead-letters the event once it
    /// reaches the group's `maxDeliveries` (its headers then say `nak`, without the
    /// reason, which only this process's log carries).
    func rejectPoison(_ delivery: Delivery, reason: String) {
        nak(delivery, delay: .zero)
    }
}
