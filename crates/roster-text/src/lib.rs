//! Filling the `{{key}}` places of a text template (the welcome message,
//! the web page), and escaping text for HTML.
//!
//! Not the CSV template (that is `roster-template`): a small tool of pure
//! text, depending on nothing, that `roster-mail` and `roster-server` share.

/// `template` with each `{{key}}` of `values` replaced by its value passed
/// through `escape`, in one pass: a value is never read as a template, so a
/// name that reads `{{password}}` stays just that. Unknown keys stay as
/// they are.
pub fn fill(template: &str, values: &[(&str, &str)], escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 128);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let value = after.find("}}").and_then(|end| {
            values
                .iter()
                .find(|(key, _)| *key == &after[..end])
                .map(|(_, value)| (end, value))
        });
        match value {
            Some((end, value)) => {
                out.push_str(&escape(value));
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` safe inside HTML elements and quoted attributes.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_once_and_escapes() {
        let values = [("name", "{{name}} <b>"), ("x", "1")];
        assert_eq!(
            fill("Hi {{name}}, {{x}} {{y}} {{", &values, html_escape),
            "Hi {{name}} &lt;b&gt;, 1 {{y}} {{"
        );
        assert_eq!(
            fill("{{x}}", &values, str::to_string),
            "1",
            "escape is the caller's choice"
        );
        assert_eq!(html_escape(r#"a&"'"#), "a&amp;&quot;&#39;");
    }
}
