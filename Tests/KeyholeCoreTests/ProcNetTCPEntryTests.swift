import KeyholeCore
import Testing

/// Lines as a little-endian Linux prints them (the address words are host-order numbers).
@Suite struct ProcNetTCPEntryTests {
    static let header =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
    static let table = [
        Self.header,
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4411 1 "
            + "0000000000000000 100 0 0 10 0",
        "   1: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 65534        0 98765 1 "
            + "0000000000000000 20 4 30 10 -1",
        "   2: 0100007F:1F90 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1000        0 98766 1 "
            + "0000000000000000 20 4 30 10 -1",
        "   3: 0100007F:A1B3 0100007F:1F90 06 00000000:00000000 03:00000F2A 00000000     0        0 0 3 "
            + "0000000000000000",
    ].joined(separator: "\n") + "\n"

    static let table6 = [
        "  sl  local_address                         remote_address                        st tx_queue rx_queue "
            + "tr tm->when retrnsmt   uid  timeout inode",
        "   0: 0000000000000000FFFF00000100007F:C350 0000000000000000FFFF00000100007F:1F90 01 "
            + "00000000:00000000 00:00000000 00000000  1001        0 55501 1 0000000000000000 20 4 30 10 -1",
        "   1: 00000000000000000000000001000000:C351 00000000000000000000000001000000:1F91 01 "
            + "00000000:00000000 00:00000000 00000000  1002        0 55502 1 0000000000000000 20 4 30 10 -1",
    ].joined(separator: "\n")

    static let loopback: [UInt8] = [127, 0, 0, 1]
    static let ipv6Loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]

    func endpoint(_ address: [UInt8], _ port: UInt16) -> TCPEndpoint {
        TCPEndpoint(address: address, port: port)!
    }

    @Test func parsesAnIPv4Line() throws {
        let line = Self.table.split(separator: "\n")[2]
        let entry = try #require(ProcNetTCPEntry(line: Array(line.utf8)))
        #expect(entry.local == self.endpoint(Self.loopback, 0xA1B2))
        #expect(entry.remote == self.endpoint(Self.loopback, 8080))
        #expect(entry.uid == 65534)
        #expect(entry.inode == 98765)
    }

    @Test func anIPv4AddressIsHeldIPv4Mapped() {
        let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 1]
        #expect(self.endpoint(Self.loopback, 1) == self.endpoint(mapped, 1))
        #expect(TCPEndpoint(address: [127, 0, 1], port: 1) == nil)
    }

    @Test func headerAndMalformedLinesAreNotEntries() {
        #expect(ProcNetTCPEntry(line: Array(Self.header.utf8)) == nil)
        #expect(ProcNetTCPEntry(line: Array("".utf8)) == nil)
        #expect(ProcNetTCPEntry(line: Array("   1: 0100007F:A1B2 0100007F 01 0 0 0 1000 0 5".utf8)) == nil)
        #expect(ProcNetTCPEntry(line: Array("   1: 0100007G:A1B2 0100007F:1F90 01 0 0 0 1000 0 5".utf8)) == nil)
        #expect(ProcNetTCPEntry(line: Array("   1: 0100007F:A1B2 0100007F:1F90 01 0 0 0 x 0 5".utf8)) == nil)
    }

    @Test func findsTheOwnerOfTheClientSocketOnly() {
        let table = Array(Self.table.utf8)
        let client = self.endpoint(Self.loopback, 0xA1B2)
        let server = self.endpoint(Self.loopback, 8080)
        #expect(ProcNetTCPEntry.owner(of: client, peer: server, inTable: table) == 65534)
        #expect(ProcNetTCPEntry.owner(of: server, peer: client, inTable: table) == 1000)
        #expect(ProcNetTCPEntry.owner(of: client, peer: self.endpoint(Self.loopback, 8081), inTable: table) == nil)
    }

    @Test func aSocketItsOwnerClosedHasNoOwner() {
        let closed = self.endpoint(Self.loopback, 0xA1B3)
        let server = self.endpoint(Self.loopback, 8080)
        #expect(ProcNetTCPEntry.owner(of: closed, peer: server, inTable: Array(Self.table.utf8)) == nil)
    }

    @Test func readsIPv6LinesWithMappedAndPlainAddresses() {
        let table = Array(Self.table6.utf8)
        let mappedClient = self.endpoint(Self.loopback, 50000)
        let mappedServer = self.endpoint(Self.loopback, 8080)
        #expect(ProcNetTCPEntry.owner(of: mappedClient, peer: mappedServer, inTable: table) == 1001)
        let client = self.endpoint(Self.ipv6Loopback, 50001)
        let server = self.endpoint(Self.ipv6Loopback, 8081)
        #expect(ProcNetTCPEntry.owner(of: client, peer: server, inTable: table) == 1002)
    }
}
