using MnistSample;
using MnistSample.Cli;

return CommandLine.Run(args, settings =>
{
    // Before MnistRun captures Console.Out: the JSON line must not start with terminal escape codes (see PlainConsole).
    if (settings.Json) PlainConsole.Install();
    // Multicore JIT: the first run of a preset records which methods it compiled, later runs compile them in the background
    // while the data loads, so the first epoch trains at full speed. A read-only install directory only loses that.
    try
    {
        NeuralNet.JitWarmup.StartProfile(Path.Combine(AppContext.BaseDirectory, "jit-profiles"), $"mnist-{settings.Effective.Name}.jitprofile");
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
    }
    return new MnistRun(settings).Execute();
});
