import KeyholeCore
import Testing

@Suite struct AWSSharedConfigTests {
    let user = AWSSharedConfig(
        parsing: """
            # my config
            [default]
            region = eu-west-1
            aws_access_key_id = AKIAPLAIN
            aws_secret_access_key = plain-secret

            [profile   work]
            region = us-east-2
            s3 =
                addressing_style = path
                max_concurrent_requests = 4
            credential_process = /usr/local/bin/old
            sso_session = corp
            [sso-session corp]
            sso_start_url = https://corp.awsapps.com/start
            sso_region = us-east-1
            [services local]
            s3 =
              endpoint_url = http://localhost:4566
            """
    )

    @Test func parsesSectionsAndNestedLines() {
        #expect(self.user.sections.map(\.header) == ["default", "profile work", "sso-session corp", "services local"])
        #expect(self.user.profile("work")?.lines.contains("    addressing_style = path") == true)
    }

    @Test func dropsEveryCredentialSettingWithItsNestedLines() {
        let text = AWSSharedConfig.generate(from: self.user, profiles: [])
        for gone in ["AKIAPLAIN", "plain-secret", "/usr/local/bin/old", "sso_session", "sso_start_url", "sso_region"] {
            #expect(!text.contains(gone), "\(gone) must not be carried over")
        }
        for kept in ["region = eu-west-1", "region = us-east-2", "    addressing_style = path",
            "    max_concurrent_requests = 4", "[services local]", "  endpoint_url = http://localhost:4566"]
        {
            #expect(text.contains(kept), "\(kept) must be carried over")
        }
    }

    @Test func existingProfileKeepsItsSettingsAndNewOnesStartFromDefault() {
        let text = AWSSharedConfig.generate(
            from: self.user, profiles: [("work", "keyhole aws-credential-process work"), ("ci", "keyhole aws-credential-process ci")]
        )
        let generated = AWSSharedConfig(parsing: text)
        #expect(generated.profile("work")?.lines.last == "credential_process = keyhole aws-credential-process work")
        #expect(generated.profile("work")?.lines.contains("region = us-east-2") == true)
        #expect(generated.profile("ci")?.lines == ["region = eu-west-1", "credential_process = keyhole aws-credential-process ci"])
        #expect(generated.profile("default")?.lines == ["region = eu-west-1"])
    }

    @Test func withoutAUserConfig() {
        let text = AWSSharedConfig.generate(from: nil, profiles: [("default", "k aws-credential-process default")])
        #expect(AWSSharedConfig(parsing: text).profile("default")?.lines == ["credential_process = k aws-credential-process default"])
    }
}
