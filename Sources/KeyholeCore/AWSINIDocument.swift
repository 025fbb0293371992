/// The sections and settings of an AWS shared config or credentials file, read as botocore reads them
/// (configparser: `=` or `:` between key and value, `#` and `;` comment lines, indented lines continue the setting
/// above, keys case-insensitive), with the line numbers of each, so that callers can keep or remove exact lines.
/// One reader for ``AWSCredentialsFile`` (import, doctor) and ``AWSSharedConfig`` (the config `run` generates).
struct AWSINIDocument {
    struct Setting {
        /// Lowercased.
        var key: String
        /// The setting's first line; its value starts at `valueStart`.
        var value: TextLine
        var valueStart: Int
        /// Its first line and its continuation lines, in order.
        var lines: [TextLine]
    }

    struct Section {
        /// The text between the brackets, trimmed.
        var name: String
        var headerLine: Int
        var settings: [Setting] = []
        /// Lines in the section that are neither a setting, a continuation, a comment nor blank (configparser
        /// refuses them; botocore never gets that far, keyhole skips them).
        var skippedLines: [Int] = []
    }

    let bytes: [UInt8]
    private(set) var sections: [Section] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
        var continuing = false
        for line in TextLine.split(bytes) {
            let content = bytes[line.content]
            guard let first = content.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { continue }
            let byte = bytes[first]
            if byte == UInt8(ascii: "#") || byte == UInt8(ascii: ";") { continue }
            if first > line.content.lowerBound, continuing {
                let section = self.sections.count - 1
                self.sections[section].settings[self.sections[section].settings.count - 1].lines.append(line)
                continue
            }
            if byte == UInt8(ascii: "["), let close = content.lastIndex(of: UInt8(ascii: "]")) {
                let name = String(decoding: bytes[(first + 1)..<close], as: UTF8.self).trimmingASCIIWhitespace()
                self.sections.append(Section(name: name, headerLine: line.number))
                continuing = false
                continue
            }
            guard !self.sections.isEmpty,
                let delimiter = content.firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ":") })
            else {
                if !self.sections.isEmpty { self.sections[self.sections.count - 1].skippedLines.append(line.number) }
                continuing = false
                continue
            }
            let key = String(decoding: bytes[first..<delimiter], as: UTF8.self).trimmingASCIIWhitespace().lowercased()
            let setting = Setting(key: key, value: line, valueStart: delimiter + 1, lines: [line])
            self.sections[self.sections.count - 1].settings.append(setting)
            continuing = true
        }
    }

    /// A line's text without its line ending.
    func text(of line: TextLine) -> String {
        String(decoding: self.bytes[line.content], as: UTF8.self)
    }
}
