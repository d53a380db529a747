//! `roster template`.

use crate::util::{Roster, root};

#[test]
fn template_prints_the_template_file() {
    let out = Roster::sqlite().run(&["template"]);
    let file =
        std::fs::read_to_string(root().join("templates/users.csv")).expect("the template file");
    assert_eq!((out.code, out.stdout.as_str()), (0, file.as_str()));
    assert!(file.starts_with("Display Name (Mandatory),Email Address (Mandatory),"));
}
