// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "keyhole",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "keyhole", targets: ["keyhole"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "CKeyholeSecret",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(name: "CKeyholeSystem"),
        .target(
            name: "KeyholeCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "KeyholeStore",
            dependencies: [
                "KeyholeCore",
                "CKeyholeSecret",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "KeyholeTLS",
            dependencies: [
                "KeyholeCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "KeyholeProxy",
            dependencies: [
                "KeyholeCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .target(
            name: "KeyholeControl",
            dependencies: [
                "KeyholeCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "KeyholeDaemon",
            dependencies: [
                "CKeyholeSystem",
                "KeyholeCore",
                "KeyholeStore",
                "KeyholeTLS",
                "KeyholeProxy",
                "KeyholeControl",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "KeyholeCommands",
            dependencies: [
                "KeyholeCore",
                "KeyholeControl",
                "KeyholeDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "keyhole",
            dependencies: ["KeyholeCommands"]
        ),
        .testTarget(name: "KeyholeCoreTests", dependencies: ["KeyholeCore"]),
        .testTarget(name: "KeyholeCommandsTests", dependencies: ["KeyholeCommands", "KeyholeCore"]),
        .testTarget(
            name: "KeyholeControlTests",
            dependencies: [
                "KeyholeControl", "KeyholeCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "KeyholeStoreTests", dependencies: ["KeyholeStore", "KeyholeCore"]),
        .testTarget(
            name: "KeyholeTLSTests",
            dependencies: [
                "KeyholeTLS",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "KeyholeProxyTests",
            dependencies: [
                "KeyholeProxy",
                "KeyholeCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)

// Fuzz targets (issue 17): compiled only when KEYHOLE_FUZZ=1, into their own build folder, by scripts/fuzz.sh.
// One executable, `keyhole-fuzz TARGET [libFuzzer flags]`, instrumented with -sanitize=fuzzer and, by default,
// address. Its main.swift calls LLVMFuzzerRunDriver; SwiftPM links executables with `--defsym main=<module>_main`,
// which lld (not gold, which crashes on it) accepts next to libFuzzer's own main.
// KEYHOLE_FUZZ_INSTRUMENT picks what else goes in: `address` (ASan, the default), `none` (libFuzzer alone: the
// fastest, for long runs) or `coverage` (LLVM source coverage, for `scripts/fuzz.sh coverage`).
if Context.environment["KEYHOLE_FUZZ"] == "1" {
    let instrument: [String]
    switch Context.environment["KEYHOLE_FUZZ_INSTRUMENT"] ?? "address" {
    case "none": instrument = ["-sanitize=fuzzer"]
    case "coverage": instrument = ["-sanitize=fuzzer", "-profile-generate", "-profile-coverage-mapping"]
    default: instrument = ["-sanitize=fuzzer,address"]
    }
    // -enable-testing: the targets `@testable import` keyhole's modules, also in the release build fuzz.sh uses.
    let fuzz: [SwiftSetting] = [.unsafeFlags(instrument + ["-enable-testing"])]
    for index in package.targets.indices where package.targets[index].type == .regular
        && package.targets[index].name.hasPrefix("Keyhole")
    {
        package.targets[index].swiftSettings = (package.targets[index].swiftSettings ?? []) + fuzz
    }
    package.targets.append(
        .executableTarget(
            name: "KeyholeFuzz",
            dependencies: [
                "KeyholeCore", "KeyholeProxy", "KeyholeControl",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Fuzz/Sources/KeyholeFuzz",
            swiftSettings: fuzz + [.swiftLanguageMode(.v5)],
            linkerSettings: [.unsafeFlags(instrument.filter { $0 != "-profile-coverage-mapping" } + ["-use-ld=lld"])]
        )
    )
    package.products.append(.executable(name: "keyhole-fuzz", targets: ["KeyholeFuzz"]))
}
