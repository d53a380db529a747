//! `roster stop`: asks an import to stop, or its undo when that is what
//! runs. Rows already created stay; the rest are not processed; a stopped
//! import cannot be resumed (a stopped undo can: `roster undo` again).

use roster_store::{StopOutcome, Store};

use crate::Outcome;
use crate::import_id;

pub(crate) async fn run(db: &str, id: &str) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let id = import_id::resolve(&store, id).await?.id;
    let outcome = store.stop(&id).await?;
    store.close().await;
    match outcome {
        StopOutcome::Stopped => {
            println!("import {id} stopped before it started; no row was processed")
        }
        StopOutcome::Stopping => {
            println!(
                "import {id} is stopping: it stops after the batch in progress (`roster status {id}` shows when)"
            )
        }
        StopOutcome::AlreadyFinished(state) => {
            println!("import {id} is already {state}; there is nothing to stop")
        }
        StopOutcome::UndoStopped => println!(
            "the undo of import {id} stopped before it started; nothing was undone \
             (`roster undo {id}` asks for it again)"
        ),
        StopOutcome::UndoStopping => println!(
            "the undo of import {id} is stopping: it stops after the batch in progress; \
             `roster undo {id}` later goes on with the rows not undone"
        ),
    }
    Ok(Outcome::Done)
}
