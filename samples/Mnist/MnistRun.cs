namespace MnistSample;

/// <summary>One training run: loads the data, builds the preset's network, trains, evaluates and writes the outputs.</summary>
public sealed class MnistRun(RunSettings settings)
{
    /// <summary>Runs; returns the process exit code.</summary>
    public int Execute()
    {
        Console.Error.WriteLine($"mnist: error: training is not wired yet ({settings.Preset.Name}).");
        return 1;
    }
}
