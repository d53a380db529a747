//! The plan of files that update users: each update rule against an
//! account held in memory.

use roster_validate::{
    Action, Code, E164, Extension, ExtensionPolicy, Location, MemoryDirectory, Mode, NumberState,
    Options, Report, Role, UserState, validate,
};

fn number(text: &str) -> E164 {
    E164::parse(text).expect("a number")
}

fn extension(text: &str) -> Extension {
    Extension::parse(text, ExtensionPolicy::DEFAULT).expect("an extension")
}

fn user(id: i64, email: &str, ext: &str, numbers: &[&str]) -> UserState {
    let mut numbers: Vec<E164> = numbers.iter().map(|n| number(n)).collect();
    let primary = (!numbers.is_empty()).then(|| numbers.remove(0));
    numbers.sort_unstable();
    UserState {
        id,
        email: email.to_string(),
        display_name: format!("User {id}"),
        first_name: None,
        last_name: None,
        job_title: Some("Engineer".to_string()),
        department: Some("Sales".to_string()),
        organizational_unit: None,
        role: Role::User,
        location: Location::parse("Main Company Address").expect("a name"),
        extensions: vec![extension(ext)],
        primary,
        additional: numbers,
    }
}

/// An account of three users (Ann 7001 +16175550101, Bob 7002
/// +16175550102 and +16175550103, Cy 7003), two numbers parked.
fn account() -> MemoryDirectory {
    let mut directory = MemoryDirectory {
        users: vec![
            user(1, "ann@acme.example", "7001", &["+16175550101"]),
            user(
                2,
                "bob@acme.example",
                "7002",
                &["+16175550102", "+16175550103"],
            ),
            user(3, "cy@acme.example", "7003", &[]),
        ],
        ..MemoryDirectory::default()
    };
    directory.locations.insert("boston office".to_string());
    for u in &directory.users {
        directory.emails.insert(u.email.clone());
        directory.extensions.extend(&u.extensions);
        for n in u.numbers() {
            directory.numbers.insert(n, NumberState::Assigned);
        }
    }
    for parked in ["+16175550150", "+16175550151"] {
        directory
            .numbers
            .insert(number(parked), NumberState::Parked);
    }
    directory
}

fn plan(mode: Mode, file: &str) -> Report {
    let options = Options {
        mode,
        ..Options::default()
    };
    let file = file.to_string();
    validate(
        Box::new(std::io::Cursor::new(file)),
        &mut account(),
        &options,
    )
    .expect("validated")
}

/// Each row's action and changes, as `row action column:from>to …`.
fn shown(report: &Report) -> Vec<String> {
    report
        .planned
        .iter()
        .map(|p| {
            let mut line = format!("{} {}", p.row, p.action.as_str());
            for c in &p.changes {
                line.push_str(&format!(" {}:{}>{}", c.column.header(), c.from, c.to));
            }
            if p.linked {
                line.push_str(" linked");
            }
            line
        })
        .collect()
}

fn errors(report: &Report) -> Vec<String> {
    report
        .row_errors
        .iter()
        .map(|e| format!("{} {} {}", e.row, e.code, e.message))
        .collect()
}

const HEADER: &str = "Display Name (Mandatory),Email Address (Mandatory),Department (Optional),\
    Primary Phone Number (Optional),Additional Phone Numbers (Optional),Extension (Optional),\
    Voice Location (Optional),Job Title (Optional)\n";

#[test]
fn empty_cells_keep_and_the_marker_clears() {
    let report = plan(
        Mode::Upsert,
        &format!(
            "{HEADER}\
             ,ANN@acme.example,,,,,,\n\
             User 2,bob@acme.example,Support,,,,Boston Office,#CLEAR\n\
             Dee,dee@acme.example,#clear,+16175550150,,,,\n"
        ),
    );
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!(
        shown(&report),
        [
            "2 unchanged",
            "3 update Job Title (Optional):Engineer> Department (Optional):Sales>Support \
             Voice Location (Optional):Main Company Address>Boston Office",
            "4 create",
        ]
    );
    let counts = report.plan.expect("a plan");
    assert_eq!((counts.create, counts.update, counts.unchanged), (1, 1, 1));
}

#[test]
fn numbers_and_extensions_move_and_the_old_ones_go_back() {
    let report = plan(
        Mode::Update,
        &format!(
            "{HEADER}\
             ,ann@acme.example,,+16175550150,+16175550101,7010,,\n\
             ,bob@acme.example,,+16175550103,,,,\n"
        ),
    );
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!(
        shown(&report),
        [
            "2 update Primary Phone Number (Optional):+16175550101>+16175550150 \
             Additional Phone Numbers (Optional):>+16175550101 Extension (Optional):7001>7010",
            // The primary moves up from the additional ones; the old primary
            // goes back to the account.
            "3 update Primary Phone Number (Optional):+16175550102>+16175550103 \
             Additional Phone Numbers (Optional):+16175550103>",
        ]
    );
}

#[test]
fn two_users_swap_extensions_and_a_new_user_takes_a_released_number() {
    let report = plan(
        Mode::Upsert,
        &format!(
            "{HEADER}\
             ,ann@acme.example,,,,7002,,\n\
             ,bob@acme.example,,#clear,#clear,7001,,\n\
             Dee,dee@acme.example,,+16175550102,,,,\n\
             ,cy@acme.example,,,,,,\n"
        ),
    );
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!(
        shown(&report),
        [
            "2 update Extension (Optional):7001>7002 linked",
            "3 update Primary Phone Number (Optional):+16175550102> \
             Additional Phone Numbers (Optional):+16175550103> Extension (Optional):7002>7001 linked",
            "4 create linked",
            "5 unchanged",
        ]
    );
}

#[test]
fn a_conflict_with_a_user_the_file_does_not_free_names_them() {
    let report = plan(
        Mode::Upsert,
        &format!(
            "{HEADER}\
             ,ann@acme.example,,+16175550102,,7003,,\n\
             ,bob@acme.example,,,,,,\n"
        ),
    );
    assert_eq!(
        errors(&report),
        [
            "2 number_assigned +16175550102 is assigned to bob@acme.example, and no row of this \
             file gives it up; use a number parked on the account, or give that user another \
             number in this file",
            "2 extension_taken 7003 is used by cy@acme.example, and no row of this file gives it \
             up; pick a free extension, or give that user another one in this file",
        ]
    );
    assert_eq!(shown(&report), ["3 unchanged"]);
    assert_eq!(report.valid_rows, 1);
}

#[test]
fn update_mode_knows_only_existing_users() {
    let report = plan(
        Mode::Update,
        &format!("{HEADER},nobody@acme.example,,,,,,\nEve,eve@acme.example,,,,,,\n"),
    );
    let codes: Vec<(u64, Code)> = report.row_errors.iter().map(|e| (e.row, e.code)).collect();
    assert_eq!(codes, [(2, Code::UnknownUser), (3, Code::UnknownUser)]);
    assert!(report.planned.is_empty());
}

#[test]
fn a_new_user_still_needs_a_name_and_a_cleared_primary_frees_no_additional_number() {
    let report = plan(
        Mode::Upsert,
        "Email Address (Mandatory),Primary Phone Number (Optional),Extension (Optional)\n\
         new@acme.example,,\n\
         bob@acme.example,#clear,\n\
         cy@acme.example,,#clear\n",
    );
    let codes: Vec<(u64, Code)> = report.row_errors.iter().map(|e| (e.row, e.code)).collect();
    assert_eq!(
        codes,
        [
            (2, Code::Required),
            (3, Code::AdditionalWithoutPrimary),
            (4, Code::InvalidExtension)
        ]
    );
}

#[test]
fn create_mode_still_refuses_existing_emails_and_needs_every_name() {
    let report = plan(Mode::Create, &format!("{HEADER},ann@acme.example,,,,,,\n"));
    let codes: Vec<Code> = report.row_errors.iter().map(|e| e.code).collect();
    assert_eq!(codes, [Code::Required, Code::EmailTaken]);
    assert_eq!(report.plan, None);
    let report = plan(
        Mode::Create,
        "Email Address (Mandatory)\nann@acme.example\n",
    );
    assert_eq!(report.file_errors[0].code, Code::MissingColumn);
    assert_eq!(report.plan, None);
    let _ = Action::ALL;
}

#[test]
fn an_address_twice_is_a_duplicate_not_a_second_plan() {
    let report = plan(
        Mode::Update,
        &format!("{HEADER},ann@acme.example,Ops,,,,,,\n,Ann@acme.example,Sales,,,,,,\n"),
    );
    let codes: Vec<(u64, Code)> = report.row_errors.iter().map(|e| (e.row, e.code)).collect();
    assert_eq!(codes, [(3, Code::DuplicateEmail)]);
    assert_eq!(shown(&report), ["2 update Department (Optional):Sales>Ops"]);
}
