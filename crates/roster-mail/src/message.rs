//! The welcome message: who it goes to, and its text from the templates in
//! `templates/` (a plain-text and an HTML part).
//!
//! Names come from an uploaded file, so they are cleaned before they reach
//! a header: control characters (a newline would start a new header, and
//! makes lettre panic) become spaces.

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use roster_text::{fill, html_escape};

use crate::{Error, TemporaryPassword};

const TEXT: &str = include_str!("../../../templates/welcome.txt");
const HTML: &str = include_str!("../../../templates/welcome.html");

/// Where a user's welcome message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// To the user's own address.
    User,
    /// To this address, for the admin to hand on; the message names the user.
    Address(String),
}

/// What a welcome message says besides the password.
#[derive(Debug, Clone, Copy)]
pub struct Welcome<'a> {
    pub display_name: &'a str,
    /// The user's email, which is also the username.
    pub email: &'a str,
    /// Where to sign in.
    pub sign_in_url: &'a str,
    /// The sender, `Name <address>` or an address.
    pub from: &'a str,
}

/// The message that tells a user (or the admin) the temporary password.
pub fn welcome_message(
    welcome: &Welcome<'_>,
    password: &TemporaryPassword,
    recipient: &Recipient,
) -> Result<Message, Error> {
    let name = clean(welcome.display_name);
    let from: Mailbox = welcome
        .from
        .parse()
        .map_err(|_| Error::Address(welcome.from.to_string()))?;
    let user_address = welcome
        .email
        .parse()
        .map_err(|_| Error::Address(welcome.email.to_string()))?;
    let (to, subject) = match recipient {
        Recipient::User => (
            Mailbox::new(Some(name.clone()), user_address),
            format!("Your account is ready: sign in as {}", welcome.email),
        ),
        Recipient::Address(address) => (
            Mailbox::new(
                None,
                address
                    .parse()
                    .map_err(|_| Error::Address(address.clone()))?,
            ),
            format!("Temporary password for {name} ({})", welcome.email),
        ),
    };
    let values = [
        ("name", name.as_str()),
        ("sign_in_url", welcome.sign_in_url),
        ("username", welcome.email),
        ("password", password.expose()),
    ];
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(fill(TEXT, &values, str::to_string)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(fill(HTML, &values, html_escape)),
                ),
        )
        .map_err(Error::Build)
}

/// A display name fit for a header: control characters become spaces,
/// runs of spaces one, and at most 256 characters are kept.
fn clean(name: &str) -> String {
    let spaced: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    words.join(" ").chars().take(256).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn welcome(name: &str) -> Welcome<'_> {
        Welcome {
            display_name: name,
            email: "jane.doe@acme.example",
            sign_in_url: "https://pbx.acme.example/sign-in",
            from: "Acme PBX <noreply@acme.example>",
        }
    }

    fn text(message: &Message) -> String {
        String::from_utf8_lossy(&message.formatted()).replace("=\r\n", "")
    }

    #[test]
    fn the_user_gets_name_address_username_password_and_the_change_rule() {
        let password = TemporaryPassword::generate().expect("random");
        let message =
            welcome_message(&welcome("Jane Doe"), &password, &Recipient::User).expect("message");
        let text = text(&message);
        assert!(
            text.contains("To: \"Jane Doe\" <jane.doe@acme.example>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Subject: Your account is ready: sign in as jane.doe@acme.example\r\n"),
            "{text}"
        );
        assert!(text.contains("Hello Jane Doe,"));
        assert!(text.contains("https://pbx.acme.example/sign-in"));
        assert!(text.contains("Username:           jane.doe@acme.example"));
        assert!(text.contains(password.expose()));
        assert!(text.contains("choose a new password the first time you sign in"));
        assert!(text.contains("Content-Type: text/html"));
    }

    #[test]
    fn one_address_for_all_gets_a_message_naming_the_user() {
        let password = TemporaryPassword::generate().expect("random");
        let to = Recipient::Address("it@acme.example".to_string());
        let message = welcome_message(&welcome("Jane Doe"), &password, &to).expect("message");
        let text = text(&message);
        assert!(text.contains("To: it@acme.example\r\n"), "{text}");
        assert!(
            text.contains("Subject: Temporary password for Jane Doe (jane.doe@acme.example)\r\n"),
            "{text}"
        );
    }

    #[test]
    fn a_name_is_never_read_as_a_template() {
        let password = TemporaryPassword::generate().expect("random");
        let message = welcome_message(
            &welcome("{{password}} {{name}} {{"),
            &password,
            &Recipient::Address("it@acme.example".to_string()),
        )
        .expect("message");
        let text = text(&message);
        assert!(text.contains("Hello {{password}} {{name}} {{,"), "{text}");
        assert_eq!(text.matches(password.expose()).count(), 2, "{text}");
    }

    #[test]
    fn a_name_cannot_inject_headers() {
        let password = TemporaryPassword::generate().expect("random");
        let message = welcome_message(
            &welcome("Jane\r\nBcc: thief@evil.example\n<b>x</b>"),
            &password,
            &Recipient::User,
        )
        .expect("message");
        let text = text(&message);
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert!(
            text.contains("Jane Bcc: thief@evil.example <b>x</b>"),
            "{text}"
        );
        assert!(
            text.contains("Hello Jane Bcc: thief@evil.example &lt;b&gt;x&lt;/b&gt;,"),
            "{text}"
        );
    }
}
