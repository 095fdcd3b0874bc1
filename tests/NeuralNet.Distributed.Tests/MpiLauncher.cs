using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace NeuralNet.Distributed.Tests;

/// <summary>The output of one mpirun launch.</summary>
internal sealed record MpiRun(int ExitCode, string Output, TimeSpan Elapsed, bool TimedOut)
{
    public override string ToString() => $"exit code {ExitCode} after {Elapsed.TotalSeconds:F1} s{(TimedOut ? " (TIMED OUT, killed)" : "")}:\n{Output}";
}

/// <summary>Finds Open MPI's mpirun and launches the worker under it, always with a timeout.</summary>
internal static class MpiLauncher
{
    /// <summary>Sends a POSIX signal (the tests stop and resume ranks with SIGSTOP and SIGCONT).</summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Signal(int pid, int signal);

    public const int SigKill = 9, SigCont = 18, SigStop = 19;

    private static readonly Lazy<(string? Path, string? Problem)> Mpirun = new(Locate);

    /// <summary>True when the environment variable CI is "true": a missing mpirun is then a failure, not a skip.</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why the MPI tests cannot run here, or null when they can.</summary>
    public static string? Problem => Mpirun.Value.Problem;

    /// <summary>The worker program the tests launch.</summary>
    public static string WorkerPath =>
        typeof(MpiLauncher).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "WorkerPath").Value!;

    /// <summary>The MNIST sample (samples/Mnist), built with the tests.</summary>
    public static string SamplePath =>
        typeof(MpiLauncher).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SamplePath").Value!;

    /// <summary>
    /// Runs the worker like <see cref="Run"/> and, once rank 1 has printed its pid (<c>[rank 1] pid N</c>) and rank 0 a line
    /// starting with <paramref name="trigger"/>, calls <paramref name="act"/> with rank 1's pid, once (e.g. to stop or kill it).
    /// Returns the run and the <see cref="Stopwatch"/> timestamp of the action (0 when it never came). A rank 1 still alive
    /// afterwards (stopped, say) is killed, so it never outlives the test.
    /// </summary>
    public static (MpiRun Run, long ActedAt) RunActingOnRank1(int ranks, string[] args, string trigger, Action<int> act,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        int victim = 0;
        long actedAt = 0;
        try
        {
            var run = Run(ranks, args, TimeSpan.FromSeconds(60), (line, _) =>
            {
                var m = Rank1Pid.Match(line);
                if (m.Success) Volatile.Write(ref victim, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
                if (line.StartsWith(trigger, StringComparison.Ordinal) && Volatile.Read(ref victim) != 0
                    && Interlocked.CompareExchange(ref actedAt, Stopwatch.GetTimestamp(), 0) == 0)
                    act(victim);
            }, environment: environment);
            return (run, Interlocked.Read(ref actedAt));
        }
        finally
        {
            // mpirun kills its ranks, but make sure a stopped one never outlives the test.
            if (victim != 0 && Signal(victim, 0) == 0)
            {
                Signal(victim, SigKill);
                Signal(victim, SigCont);
            }
        }
    }

    private static readonly System.Text.RegularExpressions.Regex Rank1Pid = new(@"^\[rank 1\] pid (\d+)$");

    /// <summary>Runs <c>mpirun -np <paramref name="ranks"/> dotnet Worker.dll args…</c>, killing the whole tree after <paramref name="timeout"/>.</summary>
    /// <param name="onOutputLine">Called for each output line as it arrives (from a reader thread).</param>
    /// <param name="program">The .NET program to launch instead of the worker.</param>
    /// <param name="environment">Extra environment variables for mpirun and the ranks.</param>
    public static MpiRun Run(int ranks, string[] args, TimeSpan? timeout = null, Action<string, Process>? onOutputLine = null,
        string? program = null, IReadOnlyDictionary<string, string>? environment = null) =>
        RunApps(Enumerable.Repeat(args, ranks).ToArray(), timeout, onOutputLine, program, environment, sameArgs: true);

    /// <summary>Runs one rank per element of <paramref name="perRank"/>, rank r with arguments perRank[r]
    /// (mpirun's multiple-program syntax <c>-np 1 dotnet P args₀ : -np 1 dotnet P args₁ …</c>).</summary>
    public static MpiRun RunApps(IReadOnlyList<string[]> perRank, TimeSpan? timeout = null, Action<string, Process>? onOutputLine = null,
        string? program = null, IReadOnlyDictionary<string, string>? environment = null, bool sameArgs = false)
    {
        if (Problem is { } problem) throw new InvalidOperationException($"The distributed tests need Open MPI: {problem}");
        program ??= WorkerPath;
        File.Exists(program).Should().BeTrue($"the program is built with the tests, at {program}");
        var psi = new ProcessStartInfo(Mpirun.Value.Path!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--oversubscribe", "--bind-to", "none" }) psi.ArgumentList.Add(a);
        if (sameArgs)
        {
            foreach (var a in new[] { "-np", perRank.Count.ToString(), "dotnet", program }) psi.ArgumentList.Add(a);
            foreach (var a in perRank[0]) psi.ArgumentList.Add(a);
        }
        else
        {
            for (int r = 0; r < perRank.Count; r++)
            {
                if (r > 0) psi.ArgumentList.Add(":");
                foreach (var a in new[] { "-np", "1", "dotnet", program }) psi.ArgumentList.Add(a);
                foreach (var a in perRank[r]) psi.ArgumentList.Add(a);
            }
        }
        // Root is refused by Open MPI unless confirmed twice; containers often run as root.
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        // Cross-memory attach needs ptrace rights that containers usually lack; copy through shared memory instead.
        psi.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        // A real terminal type: the ranks' output must stay free of terminal escape codes even then (PlainConsole).
        psi.Environment["TERM"] = "xterm";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;

        var output = new StringBuilder();
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (output) output.AppendLine(line);
            onOutputLine?.Invoke(line, process);
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool exited = process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60));
        if (!exited)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit(10_000);
        }
        else
        {
            process.WaitForExit(); // drain the asynchronous readers
        }
        watch.Stop();
        lock (output) return new MpiRun(exited ? process.ExitCode : -1, output.ToString(), watch.Elapsed, !exited);
    }

    private static (string?, string?) Locate()
    {
        string? path = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "mpirun"))
            .FirstOrDefault(File.Exists);
        if (path is null) return (null, "mpirun was not found on PATH (install Open MPI: apt-get install openmpi-bin).");
        try
        {
            var psi = new ProcessStartInfo(path, "--version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            string text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            if (!p.WaitForExit(20_000)) { p.Kill(true); return (null, $"'{path} --version' did not answer within 20 s."); }
            if (!text.Contains("Open MPI", StringComparison.Ordinal))
                return (null, $"{path} is not Open MPI's mpirun (it says: {text.Trim()}); NeuralNet.Distributed binds Open MPI's libmpi.so.40.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (null, $"{path} cannot be run: {e.Message}");
        }
        if (!MpiCommunicator.IsAvailable(out string? reason)) return (null, reason);
        return (path, null);
    }
}

/// <summary>
/// A test that launches real mpirun. Skipped, with the reason, where Open MPI is missing; but when CI=true it runs
/// anyway and fails on the missing mpirun, so CI can never pass by skipping.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class MpiFactAttribute : FactAttribute
{
    /// <summary>Decides at discovery whether the test can run here.</summary>
    public MpiFactAttribute()
    {
        if (MpiLauncher.Problem is { } problem && !MpiLauncher.IsCi)
            Skip = $"Open MPI is not available: {problem} (under CI=true this is a failure, not a skip)";
    }
}

/// <summary>The theory counterpart of <see cref="MpiFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class MpiTheoryAttribute : TheoryAttribute
{
    /// <summary>Decides at discovery whether the test can run here.</summary>
    public MpiTheoryAttribute()
    {
        if (MpiLauncher.Problem is { } problem && !MpiLauncher.IsCi)
            Skip = $"Open MPI is not available: {problem} (under CI=true this is a failure, not a skip)";
    }
}
