using MnistSample;
using MnistSample.Cli;

return CommandLine.Run(args, settings =>
{
    // Before MnistRun captures Console.Out: the JSON line must not start with terminal escape codes (see PlainConsole).
    if (settings.Json) PlainConsole.Install();
    return new MnistRun(settings).Execute();
});
