/// One socket line of `/proc/net/tcp` or `/proc/net/tcp6`:
/// `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...`, where an
/// address is `ADDR:PORT` in hex, ADDR being the address's 32-bit words each printed as a number in the
/// host's byte order (IPv4 `127.0.0.1` is `0100007F` on a little-endian host) and PORT a plain number.
public struct ProcNetTCPEntry: Sendable, Equatable {
    public var local: TCPEndpoint
    public var remote: TCPEndpoint
    public var uid: UInt32
    /// 0 once the socket's owner has closed it (an orphan or a time-wait entry, whose uid reads 0).
    public var inode: UInt64

    /// Parses one line; nil for the header line or anything malformed.
    public init?(line: some Collection<UInt8>) {
        let fields = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        guard fields.count >= 10,
            let local = Self.endpoint(fields[1]),
            let remote = Self.endpoint(fields[2]),
            let uid = Self.number(fields[7], radix: 10).flatMap(UInt32.init(exactly:)),
            let inode = Self.number(fields[9], radix: 10)
        else { return nil }
        self.local = local
        self.remote = remote
        self.uid = uid
        self.inode = inode
    }

    /// The uid owning the open socket from `local` to `remote` in a whole table's text; nil when there is no
    /// such socket or its owner has already closed it.
    public static func owner(of local: TCPEndpoint, peer remote: TCPEndpoint, inTable table: [UInt8]) -> UInt32? {
        for line in table.split(separator: UInt8(ascii: "\n")) {
            guard let entry = ProcNetTCPEntry(line: line), entry.local == local, entry.remote == remote else {
                continue
            }
            return entry.inode == 0 ? nil : entry.uid
        }
        return nil
    }

    /// `ADDR:PORT`, ADDR 8 or 32 hex digits, PORT 4.
    private static func endpoint(_ field: some Collection<UInt8>) -> TCPEndpoint? {
        let parts = field.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 8 || parts[0].count == 32, parts[1].count == 4,
            let port = Self.number(parts[1], radix: 16)
        else { return nil }
        var address: [UInt8] = []
        address.reserveCapacity(16)
        var digits = parts[0][...]
        while !digits.isEmpty {
            guard let word = Self.number(digits.prefix(8), radix: 16) else { return nil }
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: word)) { address.append(contentsOf: $0) }
            digits = digits.dropFirst(8)
        }
        return TCPEndpoint(address: address, port: UInt16(truncatingIfNeeded: port))
    }

    /// Digits only (no sign), at most 16 of them; nil for anything else.
    private static func number(_ digits: some Collection<UInt8>, radix: UInt64) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard let digit = Hex.value(of: byte), UInt64(digit) < radix else { return nil }
            value = value * radix + UInt64(digit)
        }
        return value
    }
}
