//! `keytrail cluster scheduler|executor`: the processes of a Ballista cluster, from the
//! same binary (and image) as the job that sends them queries.

use anyhow::Context;
use keytrail_cluster::{ExecutorOptions, SchedulerAddress};

use crate::cli::{ClusterCommand, ExecutorArgs, SchedulerArgs};
use crate::exit::ExitCode;

pub async fn run(command: ClusterCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClusterCommand::Scheduler(args) => scheduler(args).await,
        ClusterCommand::Executor(args) => executor(args).await,
    }
}

async fn scheduler(args: SchedulerArgs) -> anyhow::Result<ExitCode> {
    tracing::info!(bind = %args.bind, "Ballista scheduler starting");
    keytrail_cluster::run_scheduler(args.bind).await.with_context(|| format!("running the scheduler on {}", args.bind))?;
    Ok(ExitCode::Success)
}

async fn executor(args: ExecutorArgs) -> anyhow::Result<ExitCode> {
    let scheduler = SchedulerAddress::parse(&args.scheduler)?;
    tracing::info!(bind = %args.bind, %scheduler, "Ballista executor starting");
    let options = ExecutorOptions {
        scheduler,
        bind: args.bind,
        grpc_port: args.grpc_port,
        external_host: args.external_host,
        concurrent_tasks: args.concurrent_tasks,
        memory_bytes: args.memory_mb.map(|mb| mb << 20),
        work_dir: args.work_dir,
    };
    keytrail_cluster::run_executor(options).await.with_context(|| format!("running the executor on {}", args.bind))?;
    Ok(ExitCode::Success)
}
