import pytest
import torch

from models.networks import (
    DiscriminatorConfig,
    GeneratorConfig,
    PatchDiscriminator,
    UNetGenerator,
    count_parameters,
)


@pytest.mark.parametrize("out_channels", [2, 3])
@pytest.mark.parametrize("upsample", ["transpose", "resize_conv"])
def test_generator_shape_contract(out_channels, upsample):
    g = UNetGenerator(GeneratorConfig(ngf=8, out_channels=out_channels, upsample=upsample)).eval()
    with torch.no_grad():
        y = g(torch.randn(2, 1, 256, 256))
    assert y.shape == (2, out_channels, 256, 256)
    assert y.abs().max() <= 1.0  # tanh


def test_default_generator_is_the_pix2pix_unet_256():
    g = UNetGenerator()
    assert g.config.num_downs == 8 and g.config.ngf == 64
    # pix2pix's unet_256 has 54.4 M parameters (3 outputs); ours predicts a, b (2 outputs).
    assert 54_000_000 < count_parameters(g) < 54_500_000
    # The three innermost decoder blocks carry dropout, the others do not.
    with_dropout = [any(isinstance(m, torch.nn.Dropout) for m in block) for block in g.up]
    assert with_dropout == [True, True, True] + [False] * 5


def test_configurable_depth_and_width():
    g = UNetGenerator(GeneratorConfig(ngf=16, num_downs=5)).eval()
    assert len(g.down) == 5 and g.down[0][0].out_channels == 16
    with torch.no_grad():
        assert g(torch.randn(1, 1, 64, 96)).shape == (1, 2, 64, 96)
    with pytest.raises(ValueError, match="multiple of 32"):
        g(torch.randn(1, 1, 64, 80))


def test_resize_conv_has_no_transposed_convolutions():
    g = UNetGenerator(GeneratorConfig(ngf=8, upsample="resize_conv"))
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules())
    assert any(isinstance(m, torch.nn.Upsample) for m in g.modules())


def test_bad_configs_are_refused():
    with pytest.raises(ValueError):
        GeneratorConfig(upsample="pixelshuffle")
    with pytest.raises(ValueError):
        GeneratorConfig(num_downs=0)
    with pytest.raises(ValueError, match="unknown"):
        GeneratorConfig.from_dict({"ngf": 8, "colour": 1})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ngf": 64.0}, "ngf must be a whole number, got 64.0"),
        ({"ngf": True}, "ngf must be a whole number, got True"),
        ({"ngf": "64"}, "ngf must be a whole number, got '64'"),
        ({"ngf": 2048}, r"ngf must be in \[1, 512\], got 2048"),
        ({"ngf": 2**20}, r"ngf must be in \[1, 512\], got 1048576"),
        ({"max_mult": 10**6}, r"max_mult must be in \[1, 16\]"),
        ({"num_bins": -1}, r"num_bins must be in \[0, 1024\]"),
        ({"dropout": float("nan")}, r"dropout must be in \[0, 1\), got nan"),
        ({"dropout": "0.5"}, "dropout must be a number, got '0.5'"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"upsample": ["transpose"]}, "upsample must be one of 'transpose', 'resize_conv'"),
        ({"hint_channels": 5}, "hint_channels must be 0 or 3, got 5"),
        ({"ngf": 0.5, "num_downs": None}, "ngf must be .*; num_downs must be a whole number"),
    ],
)
def test_generator_settings_from_a_file_are_type_and_range_checked(settings, message):
    """Configs come from model files and checkpoints: a wrong type or an absurd size is one
    ValueError line, before any network is built (ngf 2**20 would be a terabyte)."""
    with pytest.raises(ValueError, match=message) as caught:
        GeneratorConfig.from_dict(settings)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("data", ["hello", ["ngf", 8], None, 3])
def test_settings_that_are_not_a_mapping_are_refused(data):
    with pytest.raises(ValueError, match="must be a mapping"):
        GeneratorConfig.from_dict(data)


def test_autoencoder_settings_are_checked_too():
    from models.networks import AutoencoderConfig

    with pytest.raises(ValueError, match="width must be a whole number"):
        AutoencoderConfig.from_dict({"width": 64.0})
    with pytest.raises(ValueError, match=r"depth must be in \[1, 8\]"):
        AutoencoderConfig(depth=40)


def test_patchgan_gives_30x30_logits_for_256():
    d = PatchDiscriminator(DiscriminatorConfig(in_channels=3))
    assert d(torch.randn(2, 3, 256, 256)).shape == (2, 1, 30, 30)
    d4 = PatchDiscriminator(DiscriminatorConfig(in_channels=4))
    assert d4(torch.randn(1, 4, 256, 256)).shape == (1, 1, 30, 30)


def test_patchgan_receptive_field_is_70():
    d = PatchDiscriminator().eval()
    x = torch.zeros(1, 3, 256, 256, requires_grad=True)
    d(x)[0, 0, 15, 15].backward()
    rows = (x.grad[0].abs().sum(dim=(0, 2)) > 0).nonzero()
    assert rows.max() - rows.min() + 1 == 70


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_channels": 1}, r"in_channels must be in \[2, 8\]"),
        ({"ndf": 0}, r"ndf must be in \[1, 512\]"),
        ({"ndf": 64.0}, "ndf must be a whole number, got 64.0"),
        ({"n_layers": 0}, r"n_layers must be in \[1, 8\]"),
        ({"n_layers": 9}, r"n_layers must be in \[1, 8\]"),
    ],
)
def test_discriminator_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DiscriminatorConfig(**kwargs)
    config = DiscriminatorConfig(in_channels=4, ndf=8)
    assert DiscriminatorConfig.from_dict(config.to_dict()) == config
