/// The placeholder AWS keys one session holds for one `--type aws` credential. The workload signs with them;
/// the proxy checks that signature with ``placeholder`` before re-signing with the real keys.
public struct AWSSessionKey: Sendable, Equatable {
    public let credential: String
    public let placeholder: AWSCredentials

    public init(credential: String, placeholder: AWSCredentials) {
        self.credential = credential
        self.placeholder = placeholder
    }
}
