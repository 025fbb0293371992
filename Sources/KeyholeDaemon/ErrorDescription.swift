import KeyholeCore

/// Turns any error into words for people plus a hint, using the `hint` the module errors carry.
enum ErrorDescription {
    static func describe(_ error: any Error) -> (message: String, hint: String?) {
        let message = (error as? CustomStringConvertible)?.description ?? "\(error)"
        if let hinted = error as? any HintedError {
            return (message, hinted.hint)
        }
        return (message, nil)
    }
}
