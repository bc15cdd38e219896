//! `tasklane task show ID`: one task, every member, one per line (or as JSON).

use clap::Args;
use tasklane_server::domain::Task;

use super::output::{emit, printable};
use super::remote::Server;
use super::{Failure, ids};

/// `task show` options.
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The task's id, or any unique start of it.
    pub id: String,

    /// Print the task as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `task` as `show` prints it: a member a line, the description last.
pub fn describe(task: &Task) -> String {
    let time = |at: Option<tasklane_server::domain::Timestamp>| {
        at.map_or_else(|| "-".to_owned(), |at| at.to_string())
    };
    let mut out = format!(
        "id:        {}\ntitle:     {}\nstatus:    {}\npriority:  {}\nassignee:  {}\nlabels:    {}\n\
         due:       {}\ncompleted: {}\ncreated:   {}\nupdated:   {}\nversion:   {}\n",
        task.id,
        printable(&task.title),
        task.status.as_str(),
        task.priority.as_str(),
        printable(task.assignee.as_deref().unwrap_or("-")),
        if task.labels.is_empty() {
            "-".to_owned()
        } else {
            printable(&task.labels.join(", "))
        },
        time(task.due_at),
        time(task.completed_at),
        task.created_at,
        task.updated_at,
        task.version,
    );
    if !task.description.is_empty() {
        out.push('\n');
        for line in task.description.lines() {
            out.push_str(&printable(line));
            out.push('\n');
        }
    }
    out
}

pub(super) async fn run(server: &Server, args: ShowArgs) -> Result<(), Failure> {
    let api = server.api();
    let id = ids::resolve(&api, &args.id).await?;
    let read = api.get(&id.to_string()).await?;
    if args.json {
        let json = serde_json::to_string(&read.task).expect("a task serialises");
        emit(&format!("{json}\n"))?;
    } else {
        emit(&describe(&read.task))?;
    }
    Ok(())
}
