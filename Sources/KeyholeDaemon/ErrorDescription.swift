import KeyholeCore

/// Turns any error into words for people plus a hint, using the `hint` the module errors carry.
enum ErrorDescription {
    static func describe(_ error: any Error) -> (message: String, hint: String?) {
        let message = String(describing: error)
        guard let hinted = error as? any HintedError, let hint = hinted.hint else {
            return (message, nil)
        }
        // Module errors print their hint after the message for logs; the client prints it on a line of its own.
        let suffix = " (hint: \(hint))"
        return (message.hasSuffix(suffix) ? String(message.dropLast(suffix.count)) : message, hint)
    }
}
