using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace NeuralNet.Distributed;

/// <summary>
/// The named settings every rank of a job must share (hyper-parameters, schedule parameters, whether and from which
/// checkpoint the run resumes, …), compared across ranks before training starts.
/// </summary>
/// <remarks>
/// <para><see cref="Verify"/> costs one all-gather of a 32-byte SHA-256 when the ranks agree. When they do not, the ranks
/// exchange their full lists and every rank throws the same <see cref="ConfigurationMismatchException"/>, naming each
/// setting that differs and every rank's value, so the job stops at once instead of deadlocking later in a collective
/// that only some ranks call (a resume that only one rank performs) or training different models.</para>
/// <para>Values are compared as text: numbers are formatted with the invariant culture and round-trip precision.</para>
/// </remarks>
public sealed class ConfigurationCheck
{
    private readonly List<KeyValuePair<string, string>> _settings = [];

    /// <summary>The settings in the order they were added.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings => _settings;

    /// <summary>Adds a setting.</summary>
    /// <param name="name">Its name, as the user knows it (e.g. a command-line option <c>--decay</c>); unique.</param>
    /// <param name="value">Its value; null is recorded as <c>none</c>.</param>
    /// <returns>This instance, for chaining.</returns>
    /// <exception cref="ArgumentException">The name is empty, contains a line break or '=', or was already added.</exception>
    public ConfigurationCheck Add(string name, string? value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.AsSpan().IndexOfAny('\n', '\r', '=') >= 0)
            throw new ArgumentException($"ConfigurationCheck.Add: the setting name '{name}' must not contain a line break or '='.", nameof(name));
        if (_settings.Any(s => s.Key == name))
            throw new ArgumentException($"ConfigurationCheck.Add: the setting '{name}' was already added.", nameof(name));
        _settings.Add(new(name, value ?? "none"));
        return this;
    }

    /// <summary>Adds a numeric setting (round-trip formatting, invariant culture).</summary>
    /// <param name="name">Its name.</param>
    /// <param name="value">Its value.</param>
    /// <returns>This instance.</returns>
    public ConfigurationCheck Add(string name, double value) => Add(name, value.ToString("R", CultureInfo.InvariantCulture));

    /// <summary>Adds an integer setting.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="value">Its value.</param>
    /// <returns>This instance.</returns>
    public ConfigurationCheck Add(string name, long value) => Add(name, value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Adds a yes/no setting.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="value">Its value.</param>
    /// <returns>This instance.</returns>
    public ConfigurationCheck Add(string name, bool value) => Add(name, value ? "true" : "false");

    /// <summary>The settings as text, one <c>name=value</c> per line (line breaks inside values escaped as <c>\n</c>).</summary>
    /// <returns>The text that is hashed and, on a mismatch, exchanged.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var (name, value) in _settings)
            text.Append(name).Append('=').Append(value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
        return text.ToString();
    }

    /// <summary>A SHA-256 of <see cref="ToString"/>, as 16 hex digits.</summary>
    public string Hash => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ToString())))[..16].ToLowerInvariant();

    /// <summary>Checks that every rank of <paramref name="communicator"/> has the same settings. Every rank must call it
    /// at the same point; all ranks return or all throw.</summary>
    /// <param name="communicator">The group.</param>
    /// <returns>The hash every rank agreed on (16 hex digits).</returns>
    /// <exception cref="ConfigurationMismatchException">Some settings differ; the message (identical on every rank) names
    /// each differing setting with every rank's value.</exception>
    public string Verify(Communicator communicator)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        byte[] text = Encoding.UTF8.GetBytes(ToString());
        byte[] hash = SHA256.HashData(text);
        int size = communicator.Size;
        var hashes = new byte[hash.Length * size];
        communicator.AllGather<byte>(hash, hashes);
        bool agree = true;
        for (int r = 1; r < size && agree; r++) agree = hashes.AsSpan(r * hash.Length, hash.Length).SequenceEqual(hashes.AsSpan(0, hash.Length));
        // Every rank sees the same gathered hashes, so every rank takes the same branch.
        if (agree) return Convert.ToHexString(hash)[..16].ToLowerInvariant();

        var lengths = new long[size];
        communicator.AllGather<long>([text.Length], lengths);
        int longest = checked((int)lengths.Max());
        var padded = new byte[longest];
        text.CopyTo(padded, 0);
        var all = new byte[checked(longest * size)];
        communicator.AllGather<byte>(padded, all);
        var perRank = new List<Dictionary<string, string>>(size);
        var names = new List<string>();
        for (int r = 0; r < size; r++)
        {
            var settings = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string line in Encoding.UTF8.GetString(all, r * longest, (int)lengths[r]).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = line.IndexOf('=', StringComparison.Ordinal);
                string name = line[..eq];
                settings[name] = line[(eq + 1)..];
                if (!names.Contains(name)) names.Add(name);
            }
            perRank.Add(settings);
        }
        var differing = names.Where(n => perRank.Select(s => s.GetValueOrDefault(n)).Distinct().Count() > 1).ToList();
        var parts = differing.Select(n => $"{n}: " + string.Join(", ", Enumerable.Range(0, size).Select(r =>
            $"rank {r} {(perRank[r].TryGetValue(n, out string? v) ? $"'{Shorten(v)}'" : "(not set)")}")));
        throw new ConfigurationMismatchException(differing,
            $"the ranks were started with different settings: {string.Join("; ", parts)}. Every rank must run with the same settings.");
    }

    private static string Shorten(string value) => value.Length <= 200 ? value : value[..200] + "…";
}

/// <summary>Thrown on every rank by <see cref="ConfigurationCheck.Verify"/> when the ranks' settings differ.</summary>
public sealed class ConfigurationMismatchException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="settings">The names of the settings that differ.</param>
    /// <param name="message">The message, naming them and every rank's value.</param>
    public ConfigurationMismatchException(IReadOnlyList<string> settings, string message) : base(message)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
    }

    /// <summary>The names of the settings that differ, in the order rank 0 added them.</summary>
    public IReadOnlyList<string> Settings { get; }
}
