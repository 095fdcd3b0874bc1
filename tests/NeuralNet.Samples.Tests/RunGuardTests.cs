using System.Text;
using MnistSample;
using MnistSample.Cli;

namespace NeuralNet.Samples.Tests;

/// <summary>What the sample refuses or reports before, during and after a run: options, resumes, output directory, Ctrl-C.</summary>
public class RunGuardTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandLine.Run(args, _ => 0, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("--epoch", "--epochs")]
    [InlineData("--lerning-rate", "--learning-rate")]
    [InlineData("--batchsize", "--batch-size")]
    [InlineData("--thread", "--threads")]
    public void UnknownOptionIsNamedWithTheNearestKnownOne(string typo, string meant)
    {
        var (code, stdout, stderr) = Cli("--preset", "mlp", typo, "3");
        code.Should().Be(CommandLine.UsageError);
        stdout.Should().BeEmpty();
        stderr.Trim().Should().Be($"mnist: error: unknown option '{typo}' (did you mean {meant}?) (see --help)");
    }

    [Fact]
    public void UnknownOptionWithoutANearOneIsNamedAlone()
    {
        Cli("--frobnicate").Err.Trim().Should().Be("mnist: error: unknown option '--frobnicate' (see --help)");
        Cli("--lr=0.1", "--epochs", "1").Code.Should().Be(0, "--name=value of a known option is not unknown");
        Cli("--learning-rate", "-0.1").Err.Should().Contain("positive", "a negative number is a value, not an option");
    }

    [Fact]
    public void ThreadsAboveFourPerCoreAreRefused()
    {
        var (code, _, stderr) = Cli("--threads", "100000");
        code.Should().Be(CommandLine.UsageError);
        stderr.Should().Contain($"--threads 100000 is more than {CommandLine.MaxThreads} (4 per core on this machine's {Environment.ProcessorCount} cores)");
        Cli("--threads", CommandLine.MaxThreads.ToString()).Code.Should().Be(0);
        Cli("--threads", (CommandLine.MaxThreads + 1).ToString()).Code.Should().Be(CommandLine.UsageError);
    }

    [Fact]
    public void ResumeWithOtherSettingsIsRefusedNamingThem()
    {
        using var dir = new TempDir();
        string[] common = [.. SmallMnist.CsvArgs, "--no-report", "--plain"];
        string checkpoint = Path.Combine(dir.Path, "first", "checkpoint.safetensors");
        SmokeTests.RunSample([.. common, "--subset", "300", "--batch-size", "50", "--epochs", "1", "-o", Path.Combine(dir.Path, "first")]).Code.Should().Be(0);

        var changed = SmokeTests.RunSample([.. common, "--subset", "400", "--batch-size", "60", "--lr", "0.05", "--seed", "7", "--decay", "0.5",
            "--epochs", "2", "-o", Path.Combine(dir.Path, "second"), "--resume", checkpoint]);
        changed.Code.Should().Be(1);
        string error = changed.Err.Trim();
        error.Split('\n').Should().ContainSingle();
        error.Should().StartWith("mnist: error: ").And.Contain("other settings")
            .And.Contain("--batch-size 50 (now 60)")
            .And.Contain("--subset 300 (now 400)")
            .And.Contain("--learning-rate 3 (now 0.05)")
            .And.Contain("--seed 42 (now 7)")
            .And.Contain("--decay 0.97 (now 0.5)");
        Directory.Exists(Path.Combine(dir.Path, "second")).Should().BeTrue();
        File.Exists(Path.Combine(dir.Path, "second", "model.safetensors")).Should().BeFalse("the refused run trains nothing");

        var fraction = SmokeTests.RunSample([.. common, "--subset", "300", "--batch-size", "50", "--sample-fraction", "0.5",
            "--epochs", "2", "-o", Path.Combine(dir.Path, "third"), "--resume", checkpoint]);
        fraction.Code.Should().Be(1);
        fraction.Err.Should().Contain("--sample-fraction 1 (now 0.5)");

        var same = SmokeTests.RunSample([.. common, "--subset", "300", "--batch-size", "50", "--epochs", "2", "-o", Path.Combine(dir.Path, "fourth"), "--resume", checkpoint]);
        same.Code.Should().Be(0, same.Err);
    }

    [Fact]
    public void OneCycleResumeWithOtherEpochsIsRefused_ItsLengthShapesTheSchedule()
    {
        using var dir = new TempDir();
        string[] common = [.. SmallMnist.CsvArgs, "--no-report", "--plain", "--subset", "300", "--batch-size", "50", "--schedule", "onecycle"];
        string checkpoint = Path.Combine(dir.Path, "first", "checkpoint.safetensors");
        SmokeTests.RunSample([.. common, "--epochs", "2", "-o", Path.Combine(dir.Path, "first")]).Code.Should().Be(0);

        var longer = SmokeTests.RunSample([.. common, "--epochs", "3", "-o", Path.Combine(dir.Path, "second"), "--resume", checkpoint]);
        longer.Code.Should().Be(1);
        longer.Err.Should().Contain("--epochs 2 (now 3)");
        var warmup = SmokeTests.RunSample([.. common, "--epochs", "2", "--warmup", "0.5", "-o", Path.Combine(dir.Path, "third"), "--resume", checkpoint]);
        warmup.Code.Should().Be(1);
        warmup.Err.Should().Contain("--warmup 0.25 (now 0.5)");
    }

    [Fact]
    public void UnwritableOutputDirectoryIsRefusedBeforeLoadingData()
    {
        // Tests run as root, for whom permission bits do not stop a write: use places where no one can create a file.
        // Under a regular file (any system), and /proc, which exists but takes no new files even from root (Linux).
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "plain-file");
        File.WriteAllText(file, "x");
        var targets = new List<string> { Path.Combine(file, "out") };
        if (OperatingSystem.IsLinux()) targets.Add("/proc");
        foreach (string target in targets)
        {
            var run = SmokeTests.RunSample([.. SmallMnist.CsvArgs, "--subset", "300", "--epochs", "1", "--plain", "-o", target]);
            run.Code.Should().Be(1, target);
            run.Err.Trim().Should().StartWith($"mnist: error: the output directory '{target}' is not writable");
            run.Out.Should().BeEmpty("the run stops before loading data or training");
        }
    }

    [Fact]
    public void CtrlCStopsWithExitCode130AndSaysHowToResume()
    {
        using var dir = new TempDir();
        string[] args = [.. SmallMnist.CsvArgs, "--subset", "400", "--batch-size", "20", "--epochs", "3", "--no-report", "--plain", "-o", dir.Path];
        var parsed = CommandLine.TryParse(args);
        parsed.Error.Should().BeNull();
        using var interrupt = new CancellationTokenSource();
        // "Ctrl-C" as soon as the first epoch's line is printed: the run stops at the next step of epoch 2.
        var output = new WatchingWriter("epoch 1/3", interrupt.Cancel);
        var error = new StringWriter();
        int code = new MnistRun(parsed.Settings!, output, error, interrupt.Token).Execute();

        code.Should().Be(MnistRun.Interrupted).And.Be(130);
        string checkpoint = Path.Combine(dir.Path, "checkpoint.safetensors");
        error.ToString().Trim().Should().Be($"mnist: interrupted. Resume with the same options and --resume {checkpoint}");
        output.ToString().Should().NotContain("epoch 2/3", "training stopped during epoch 2");
        output.ToString().Should().MatchRegex(@"epoch 1/3 .* ~\d+ s left", "the plain view tells the time left for the whole run");
        File.Exists(Path.Combine(dir.Path, "model.safetensors")).Should().BeFalse();

        var resumed = SmokeTests.RunSample([.. args, "--resume", checkpoint]);
        resumed.Code.Should().Be(0, resumed.Err);
        resumed.Out.Should().Contain("after epoch 1 of 3").And.Contain("epoch 3/3");
    }

    [Fact]
    public void OneEpochReadsAsOneEpochAndIsFlagged()
    {
        using var dir = new TempDir();
        var run = SmokeTests.RunSample([.. SmallMnist.CsvArgs, "--subset", "1000", "--batch-size", "20", "--epochs", "1", "--no-report", "--plain", "-o", dir.Path]);
        run.Code.Should().Be(0, run.Err);
        run.Out.Should().Contain("; 1 epoch of ").And.NotContain("1 epochs");
        run.Out.Should().Contain("Note: Only 1 epoch of training: a quick check, not the preset's result.");
    }

    /// <summary>A console stand-in that calls <paramref name="onText"/> once <paramref name="text"/> has been written.</summary>
    private sealed class WatchingWriter(string text, Action onText) : StringWriter
    {
        private bool _fired;

        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (!_fired && value is not null && value.Contains(text, StringComparison.Ordinal))
            {
                _fired = true;
                onText();
            }
        }

        public override Encoding Encoding => Encoding.UTF8;
    }
}
