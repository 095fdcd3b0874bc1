using MnistSample;
using MnistSample.Cli;

return CommandLine.Run(args, settings => new MnistRun(settings).Execute());
