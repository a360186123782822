import Profiles
import Testing

@Suite struct ProfileRulesTests {
    @Test(arguments: [
        "ada@example.com", "Ada.Lovelace+films@Example.co.uk", "a@b.io", "o'brien@mail-1.example.org",
    ])
    func acceptsEmail(_ email: String) throws {
        #expect(try ProfileRules.email(email) == email)
    }

    @Test(arguments: [
        "", "ada", "ada@", "@example.com", "ada@example", "ada@@example.com", "a b@example.com", ".ada@example.com",
        "ada.@example.com", "a..da@example.com", "ada@-example.com", "ada@example-.com", "ada@exa_mple.com",
        "adä@example.com", "ada@example..com", String(repeating: "a", count: 65) + "@example.com",
    ])
    func refusesEmail(_ email: String) {
        let error = profileError { _ = try ProfileRules.email(email) }
        #expect(error?.kind == .invalid)
        #expect(error?.message.hasPrefix("email:") == true)
    }

    @Test func emailIsTrimmedAndKeyedCaseInsensitively() throws {
        #expect(try ProfileRules.email("  Ada@Example.COM \n") == "Ada@Example.COM")
        #expect(ProfileRules.emailKey("Ada@Example.COM") == ProfileRules.emailKey("ada@example.com"))
    }

    @Test func displayNameIsTrimmedAndBounded() throws {
        #expect(try ProfileRules.displayName("  Ada Lovelace ") == "Ada Lovelace")
        #expect(try ProfileRules.displayName(String(repeating: "é", count: 80)).count == 80)
        #expect(profileError { _ = try ProfileRules.displayName("   ") }?.kind == .invalid)
        #expect(profileError { _ = try ProfileRules.displayName(String(repeating: "x", count: 81)) }?.kind == .invalid)
        #expect(profileError { _ = try ProfileRules.displayName("Ada\u{7}") }?.kind == .invalid)
    }

    @Test func tagsAreNormalisedDeduplicatedAndBounded() throws {
        #expect(
            try ProfileRules.tags([" Sci-Fi", "sci-fi", "Jazz", "film_noir", "ÉTÉ"]) == [
                "sci-fi", "jazz", "film_noir", "été",
            ])
        #expect(try ProfileRules.tags([]) == [])
        #expect(profileError { _ = try ProfileRules.tags(["a b"]) }?.kind == .invalid)
        #expect(profileError { _ = try ProfileRules.tags([""]) }?.kind == .invalid)
        #expect(profileError { _ = try ProfileRules.tags([String(repeating: "t", count: 33)]) }?.kind == .invalid)
        #expect(profileError { _ = try ProfileRules.tags((0...20).map { "t\($0)" }) }?.kind == .invalid)
        // Repeats do not count against the bound.
        #expect(try ProfileRules.tags(Array(repeating: "jazz", count: 30)) == ["jazz"])
    }

    @Test func cursorTextRoundTripsAndRefusesForeignText() throws {
        let cursor = HistoryCursor(watchedAtMs: 1_700_000_000_000, seq: 42)
        #expect(try HistoryCursor(text: cursor.text) == cursor)
        for text in ["", "1", "1.2.3", "-1.2", "1.-2", "a.b", " 1.2", "1.", ".2", "99999999999999999999.1"] {
            #expect(profileError { _ = try HistoryCursor(text: text) }?.kind == .invalid, "\(text)")
        }
    }
}
