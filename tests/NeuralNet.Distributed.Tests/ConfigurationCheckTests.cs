namespace NeuralNet.Distributed.Tests;

public sealed class ConfigurationCheckTests
{
    private static ConfigurationCheck Settings(double decay = 0.97, string? resume = null) =>
        new ConfigurationCheck().Add("--epochs", 10).Add("--decay", decay).Add("--step-size", 1).Add("--resume", resume);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void SameSettings_ReturnTheSameHashOnEveryRank(int size)
    {
        var hashes = new string[size];
        InProcessCommunicator.RunGroup(size, c => hashes[c.Rank] = Settings().Verify(c));
        hashes.Should().AllBe(Settings().Hash);
        Settings().Hash.Should().MatchRegex("^[0-9a-f]{16}$").And.NotBe(Settings(decay: 0.5).Hash);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 0)]
    [InlineData(3, 2)]
    [InlineData(4, 3)]
    public void OneRankDiffering_EveryRankThrowsTheSameMessage_NamingTheSettingAndEachRanksValue(int size, int odd)
    {
        var messages = new string[size];
        var names = new IReadOnlyList<string>[size];
        InProcessCommunicator.RunGroup(size, c =>
        {
            var settings = c.Rank == odd ? Settings(decay: 0.5, resume: "/ck/run.ckpt") : Settings();
            var e = Assert.Throws<ConfigurationMismatchException>(() => settings.Verify(c));
            messages[c.Rank] = e.Message;
            names[c.Rank] = e.Settings;
        });
        messages.Distinct().Should().ContainSingle("every rank reports the same");
        names[0].Should().Equal("--decay", "--resume");
        string Values(string odd1, string even) => string.Join(", ", Enumerable.Range(0, size).Select(r => $"rank {r} '{(r == odd ? odd1 : even)}'"));
        messages[0].Should().Be($"the ranks were started with different settings: --decay: {Values("0.5", "0.97")}; --resume: {Values("/ck/run.ckpt", "none")}. Every rank must run with the same settings.");
    }

    [Fact]
    public void ASettingOnlyOneRankHas_IsNamedAsNotSet()
    {
        var messages = new string[2];
        InProcessCommunicator.RunGroup(2, c =>
        {
            var settings = Settings();
            if (c.Rank == 1) settings.Add("--momentum", 0.9);
            messages[c.Rank] = Assert.Throws<ConfigurationMismatchException>(() => settings.Verify(c)).Message;
        });
        messages[0].Should().Contain("--momentum: rank 0 (not set), rank 1 '0.9'").And.Be(messages[1]);
    }

    [Fact]
    public void BadNames_AreRejected()
    {
        var check = new ConfigurationCheck().Add("a", 1);
        FluentActions.Invoking(() => check.Add("a", 2)).Should().Throw<ArgumentException>().WithMessage("*'a' was already added*");
        FluentActions.Invoking(() => check.Add("x=y", 2)).Should().Throw<ArgumentException>().WithMessage("*must not contain*");
        FluentActions.Invoking(() => check.Add(" ", "v")).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void ValuesWithLineBreaks_StayOneLine()
    {
        new ConfigurationCheck().Add("model", "Dense\nReLU").ToString().Should().Be("model=Dense\\nReLU\n");
    }
}
