"""Package metadata, read from settings.ini (the single source of configuration)."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']
extras = {k[:-len('_requirements')]: cfg[k].split() for k in cfg if k.endswith('_requirements')}

setuptools.setup(
    name=cfg['lib_name'], version=cfg['version'], description=cfg['description'],
    author=cfg['author'], author_email=cfg['author_email'], license='Apache-2.0',
    url=cfg['git_url'], python_requires=f">={cfg['min_python']}",
    packages=setuptools.find_packages(include=['elena', 'elena.*']),
    package_data={'elena': ['examples/*', 'samples/*', 'models/*']}, zip_safe=False,
    install_requires=cfg['requirements'].split(), extras_require=extras,
    entry_points={'console_scripts': cfg['console_scripts'].split(), 'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    long_description=open('README.md', encoding='utf-8').read(), long_description_content_type='text/markdown',
)
