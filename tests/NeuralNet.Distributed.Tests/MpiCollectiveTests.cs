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
        run.Output.Should().MatchRegex(@"\[rank [02]/3\] fatal: MPI_\w+ did not complete within 3 s", run.ToString());
        run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(40), run.ToString());
    }
}
