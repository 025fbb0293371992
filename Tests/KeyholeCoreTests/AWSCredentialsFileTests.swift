import KeyholeCore
import Testing

@Suite struct AWSCredentialsFileTests {
    static let text = """
        # keys
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = default/secret+key
        region = eu-west-1

        [work]
        ; long-term keys of the work account
        AWS_ACCESS_KEY_ID=AKIAWORK
        aws_secret_access_key: work-secret
        aws_session_token = FwoGZXIvYXdzEJr
            continued

        [role]
        role_arn = arn:aws:iam::123456789012:role/x
        source_profile = default

        """

    @Test func readsAProfileWithItsKeyLines() throws {
        let file = AWSCredentialsFile(bytes: Array(Self.text.utf8))
        #expect(file.profileNames == ["default", "work", "role"])
        let work = try file.profile("work")
        #expect(work.credentials.accessKeyID == "AKIAWORK" && work.credentials.secretAccessKey == "work-secret")
        #expect(work.credentials.sessionToken == "FwoGZXIvYXdzEJr")
        #expect(work.credentialLines == [9, 10, 11, 12] && work.headerLineIfOnlyKeys == 7)
        let defaults = try file.profile("default")
        #expect(defaults.credentials.sessionToken == nil && defaults.headerLineIfOnlyKeys == nil)
    }

    @Test func removingAProfileWithOnlyKeysTakesItsHeaderAndKeepsComments() throws {
        let file = AWSCredentialsFile(bytes: Array(Self.text.utf8))
        let result = String(decoding: file.removing(try file.profile("work")), as: UTF8.self)
        #expect(result == Self.text.replacingOccurrences(
            of: "[work]\n; long-term keys of the work account\nAWS_ACCESS_KEY_ID=AKIAWORK\n"
                + "aws_secret_access_key: work-secret\naws_session_token = FwoGZXIvYXdzEJr\n    continued\n",
            with: "; long-term keys of the work account\n"))
    }

    @Test func removingAProfileWithOtherSettingsKeepsTheHeaderAndThem() throws {
        let file = AWSCredentialsFile(bytes: Array(Self.text.utf8))
        let result = String(decoding: file.removing(try file.profile("default")), as: UTF8.self)
        #expect(result == Self.text.replacingOccurrences(
            of: "aws_access_key_id = AKIADEFAULT\naws_secret_access_key = default/secret+key\n", with: ""))
    }

    /// Found by the importers fuzz target (Fuzz/findings-report/importers/aws-removal-orphan-indented-line): without
    /// its header, the indented line keyhole skips in [q] continued [p]'s secret key, which then read differently.
    @Test func removingAProfileKeepsTheHeaderOfASectionWithALineItSkips() throws {
        let text = "[p]\naws_access_key_id = AKID1\naws_secret_access_key = SECRET1\n[q]\n  indented line\n"
            + "aws_access_key_id = AKID2\naws_secret_access_key = SECRET2\n"
        let file = AWSCredentialsFile(bytes: Array(text.utf8))
        let q = try file.profile("q")
        #expect(q.headerLineIfOnlyKeys == nil)
        let result = file.removing(q)
        #expect(String(decoding: result, as: UTF8.self) == "[p]\naws_access_key_id = AKID1\naws_secret_access_key = SECRET1\n[q]\n  indented line\n")
        #expect(try AWSCredentialsFile(bytes: result).profile("p").credentials == file.profile("p").credentials)
    }

    @Test func missingDuplicateAndIncompleteProfilesAreErrors() {
        let file = AWSCredentialsFile(bytes: Array(Self.text.utf8))
        #expect(throws: ImportFileError.unknownProfile("nope", available: ["default", "work", "role"])) {
            try file.profile("nope")
        }
        #expect(throws: ImportFileError.incompleteProfile("role", missing: "aws_access_key_id")) {
            try file.profile("role")
        }
        let twice = AWSCredentialsFile(bytes: Array("[a]\naws_access_key_id=A\n[a]\naws_secret_access_key=s\n".utf8))
        #expect(throws: ImportFileError.duplicateProfile("a")) { try twice.profile("a") }
        let doubled = AWSCredentialsFile(bytes: Array("[a]\naws_access_key_id=A\naws_access_key_id=B\n".utf8))
        #expect(throws: ImportFileError.duplicateSetting(profile: "a", key: "aws_access_key_id")) {
            try doubled.profile("a")
        }
        let spaced = AWSCredentialsFile(bytes: Array("[a]\naws_access_key_id=A B\naws_secret_access_key=s\n".utf8))
        #expect(throws: ImportFileError.invalidProfileValue("a", key: "aws_access_key_id")) { try spaced.profile("a") }
    }

    @Test func theStoredSecretIsTheKeysJSON() throws {
        let file = AWSCredentialsFile(bytes: Array(Self.text.utf8))
        let json = try file.profile("default").credentials.json
        #expect(try AWSCredentials(json: json) == file.profile("default").credentials)
        #expect(json == "{\"AccessKeyId\":\"AKIADEFAULT\",\"SecretAccessKey\":\"default/secret+key\"}")
    }

    @Test func descriptionNeverShowsTheSecret() throws {
        let file = AWSCredentialsFile(bytes: Array(Self.text.utf8))
        let profile = try file.profile("work")
        for text in ["\(profile)", String(reflecting: profile)] {
            #expect(!text.contains("work-secret") && !text.contains("FwoGZXIvYXdzEJr"))
        }
    }
}
