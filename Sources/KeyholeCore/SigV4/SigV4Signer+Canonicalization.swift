/// The canonical URI, query and headers. Clients differ in how they canonicalize the path and the query, so
/// verification tries each style below and re-signing reuses the one that matched.
extension SigV4Signer {
    /// How the path becomes the canonical URI.
    enum URIStyle: Sendable, Equatable, CaseIterable {
        /// The path exactly as on the wire (S3 and the signers' "don't double-encode" mode).
        case asSent
        /// botocore's `SigV4Auth`: dot segments and empty segments removed, then `quote(path, safe='/~')`,
        /// which encodes the `%` of existing escapes again (JavaScript v3 does the same).
        case normalizedEncoded
        /// `quote(path, safe='/~')` without normalization (Go v2 and Java for non-S3 services).
        case encoded
    }

    /// How the query becomes the canonical query string.
    enum QueryStyle: Sendable, Equatable, CaseIterable {
        /// The raw `name=value` pairs, sorted (botocore when the URL carries the query).
        case asSent
        /// Each name and value percent-decoded, then encoded with only RFC 3986 unreserved characters kept,
        /// then sorted (the AWS documentation, most SDKs).
        case reencoded
    }

    /// The URI styles in the order to try them: S3 signs the path as sent, other services encode it again.
    static func uriStyles(service: String) -> [URIStyle] {
        service == "s3" ? [.asSent, .normalizedEncoded, .encoded] : [.normalizedEncoded, .encoded, .asSent]
    }

    /// The canonical URI of `path` in `style`; an empty path is `/`.
    static func canonicalURI(_ path: String, style: URIStyle) -> String {
        let path = path.isEmpty ? "/" : path
        switch style {
        case .asSent:
            return path
        case .normalizedEncoded:
            return PercentEncoding.encode(Array(Self.removingDotSegments(path).utf8), keepingSlash: true)
        case .encoded:
            return PercentEncoding.encode(Array(path.utf8), keepingSlash: true)
        }
    }

    /// The canonical query of `parameters` in `style`, leaving out any parameter whose decoded name is
    /// `excluding` (`X-Amz-Signature` of a presigned URL). A pair without `=` counts as `name=`.
    static func canonicalQuery(
        _ parameters: [SigV4Target.Parameter], style: QueryStyle, excluding: String? = nil
    ) -> String {
        var pairs: [([UInt8], [UInt8])] = []
        for parameter in parameters where excluding == nil || parameter.decodedName != excluding {
            switch style {
            case .asSent:
                pairs.append((Array(parameter.name.utf8), Array((parameter.value ?? "").utf8)))
            case .reencoded:
                if parameter.name.isEmpty && parameter.value == nil {
                    continue
                }
                let name = PercentEncoding.encode(PercentEncoding.decode(parameter.name), keepingSlash: false)
                let value = PercentEncoding.encode(PercentEncoding.decode(parameter.value ?? ""), keepingSlash: false)
                pairs.append((Array(name.utf8), Array(value.utf8)))
            }
        }
        pairs.sort { lhs, rhs in
            if lhs.0 != rhs.0 {
                return lhs.0.lexicographicallyPrecedes(rhs.0)
            }
            return lhs.1.lexicographicallyPrecedes(rhs.1)
        }
        let joined = pairs.map { String(decoding: $0.0 + [UInt8(ascii: "=")] + $0.1, as: UTF8.self) }
        return joined.joined(separator: "&")
    }

    /// `name:value\n` for each signed header in the given order; values trimmed with inner runs of spaces and
    /// tabs collapsed to one space, repeated headers joined with `,` in wire order.
    static func canonicalHeaders(_ headers: [RequestHead.Header], signed: [String]) throws(SigV4Error) -> String {
        var byName: [String: [String]] = [:]
        for header in headers {
            byName[header.name.lowercased(), default: []].append(Self.collapsingSpaces(header.value))
        }
        var out = ""
        for name in signed {
            guard let values = byName[name] else {
                throw SigV4Error.malformed("the signed header `\(name)` is not in the request")
            }
            out += "\(name):\(values.joined(separator: ","))\n"
        }
        return out
    }

    /// `value` trimmed, inner runs of spaces and tabs replaced by one space.
    static func collapsingSpaces(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// RFC 3986 section 5.2.4 as botocore does it: `.` and empty segments dropped, `..` pops one; the leading
    /// slash kept, the trailing one kept when something remains.
    static func removingDotSegments(_ path: String) -> String {
        guard !path.isEmpty else {
            return ""
        }
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
            if segment == ".." {
                _ = output.popLast()
            } else {
                output.append(segment)
            }
        }
        let first = path.hasPrefix("/") ? "/" : ""
        let last = path.hasSuffix("/") && !output.isEmpty ? "/" : ""
        return first + output.joined(separator: "/") + last
    }


    /// `value` percent-decoded, as text (invalid UTF-8 becomes U+FFFD; use it for names, not for signing).
    static func percentDecoded(_ value: String) -> String {
        String(decoding: PercentEncoding.decode(value), as: UTF8.self)
    }

}
