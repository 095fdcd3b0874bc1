using System.Diagnostics;
using System.Text.RegularExpressions;
namespace NeuralNet.Distributed.Tests;

/// <summary>Launches under mpirun run one at a time: the machine has few cores and each rank is a .NET process.</summary>
[CollectionDefinition("mpirun", DisableParallelization = true)]
public sealed class MpirunCollection;

/// <summary>The Open MPI binding and the fault behaviour, under real mpirun on localhost.</summary>
[Collection("mpirun")]
public sealed class MpiCollectiveTests
{
    [MpiTheory]
    [InlineData(2)]
    [InlineData(3)]
    public void Primitives_AllReduceBroadcastGatherBarrier_GiveExactResultsOnEveryRank(int ranks)
    {
        var run = MpiLauncher.Run(ranks, ["primitives"]);
        run.ExitCode.Should().Be(0, run.ToString());
        for (int r = 0; r < ranks; r++)
        {
            run.Output.Should().Contain($"[rank {r}] size {ranks} pid", run.ToString());
            run.Output.Should().Contain($"[rank {r}] primitives OK", run.ToString());
        }
    }

    [MpiFact]
    public void ConfigurationMismatch_StopsEveryRankWithAClearError()
    {
        var run = MpiLauncher.Run(3, ["mismatch"]);
        run.ExitCode.Should().NotBe(0, run.ToString());
        run.Output.Should().Contain("the ranks disagree on the model definition or the training settings", run.ToString());
        run.Output.Should().MatchRegex("rank 0 has hash [0-9a-f]{16}, rank 1 has [0-9a-f]{16}\\.");
        run.Output.Should().Contain("Dense(4 -> 32)", "rank 1's own description is printed");
        run.Output.Should().NotContain("agreed (unexpected)");
    }

    [MpiFact]
    public void RankThatThrows_StopsTheWholeJobQuicklyWithItsMessage()
    {
        var run = MpiLauncher.Run(3, ["fail", "--rank", "1", "--step", "20"], TimeSpan.FromSeconds(60));
        run.TimedOut.Should().BeFalse(run.ToString());
        run.ExitCode.Should().NotBe(0, run.ToString());
        run.Output.Should().Contain("[rank 1/3] fatal: InvalidOperationException: deliberate failure at step 20", run.ToString());
    }

    [MpiFact]
    public void RankThatHangs_EndsTheJobAfterTheCollectiveTimeout()
    {
        // Without a timeout the other ranks would wait in the all-reduce forever; the launcher's own limit is 60 s.
        var run = MpiLauncher.Run(3, ["hang", "--rank", "1", "--step", "20", "--timeout", "3"], TimeSpan.FromSeconds(60));
        run.TimedOut.Should().BeFalse(run.ToString());
        run.ExitCode.Should().NotBe(0, run.ToString());
        run.Output.Should().Contain("[rank 1] hanging at step 20", run.ToString());
        run.Output.Should().MatchRegex(@"\[rank [02]/3\] fatal: MPI_\w+ \(collective #\d+\) did not complete within 3 s \(MpiCommunicator.CollectiveTimeout\): rank 1 did not arrive", run.ToString());
        run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(40), run.ToString());
    }
}

/// <summary>The collective timeout: on by default, configurable, and naming the rank that did not arrive.</summary>
[Collection("mpirun")]
public sealed class CollectiveTimeoutTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [MpiFact]
    public void Default_IsSixtySeconds_AndTheEnvironmentVariableOverridesIt()
    {
        var byDefault = MpiLauncher.Run(2, ["primitives"]);
        byDefault.ExitCode.Should().Be(0, byDefault.ToString());
        byDefault.Output.Should().Contain("[rank 0] collective timeout 60 s").And.Contain("[rank 1] collective timeout 60 s");

        var configured = MpiLauncher.Run(2, ["primitives"], environment: new Dictionary<string, string> { [MpiCommunicator.CollectiveTimeoutVariable] = "7.5" });
        configured.ExitCode.Should().Be(0, configured.ToString());
        configured.Output.Should().Contain("[rank 1] collective timeout 7.5 s", configured.ToString());

        var bad = MpiLauncher.Run(2, ["primitives"], environment: new Dictionary<string, string> { [MpiCommunicator.CollectiveTimeoutVariable] = "soon" });
        bad.ExitCode.Should().NotBe(0, bad.ToString());
        bad.Output.Should().Contain("NEURALNET_COLLECTIVE_TIMEOUT: 'soon' is not a collective timeout", bad.ToString());
    }

    [MpiTheory]
    [InlineData(2)]
    [InlineData(3)]
    public void RankStoppedBySigstop_IsNamed_AndTheJobEndsSoonAfterTheTimeout(int ranks)
    {
        // "fail" with no failing rank: every rank loops over ordered all-reduces until the job is ended.
        var (run, stoppedAt) = MpiLauncher.RunActingOnRank1(ranks, ["fail", "--rank", "-1"], "[rank 0] step 200",
            pid => MpiLauncher.Signal(pid, MpiLauncher.SigStop).Should().Be(0),
            new Dictionary<string, string> { [MpiCommunicator.CollectiveTimeoutVariable] = "2" });
        run.TimedOut.Should().BeFalse(run.ToString());
        stoppedAt.Should().NotBe(0, "rank 1 was stopped mid-run: " + run);
        var ended = Stopwatch.GetElapsedTime(stoppedAt);
        output.WriteLine($"{ranks} ranks: the job ended {ended.TotalSeconds:F1} s after SIGSTOP of rank 1 (timeout 2 s)");
        run.ExitCode.Should().NotBe(0, run.ToString());
        // Whichever waiting rank times out first reports (and aborts the job); never the stopped rank 1.
        run.Output.Should().MatchRegex(@"\[rank [02]/\d\] fatal: MPI_(Alltoall|Allgather) \(collective #\d+\) did not complete within 2 s \(MpiCommunicator.CollectiveTimeout\): rank 1 did not arrive", run.ToString());
        if (ranks == 3) run.Output.Should().MatchRegex(@"rank 1 did not arrive[^\n]*; rank [02] waiting in it too", run.ToString());
        ended.Should().BeLessThan(TimeSpan.FromSeconds(20), run.ToString());
    }
}
