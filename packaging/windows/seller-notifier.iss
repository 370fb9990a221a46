; Inno Setup 6 script: installs the PyInstaller one-folder bundle on Windows.
;
; Build the bundle first (python -m packaging_tools.build on Windows writes
; dist\seller-notifier\ with seller-notifier.exe, the windowed tray app, and
; seller-notifier-cli.exe, the same program with a console), then:
;
;   iscc /DAppVersion=0.1.0 packaging\windows\seller-notifier.iss
;
; Output: dist\seller-notifier-<version>-windows-x64-setup.exe.
; Per-user install by default (no administrator rights needed); the installer
; offers "for all users" when run by an administrator.
;
; Untested here (no Windows machine in the team's environment): the release
; workflow (.github/workflows/release.yml) builds it on windows-latest.

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z (app.__version__)
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\seller-notifier"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifndef IconFile
  #define IconFile "..\..\build\icons\seller-notifier.ico"
#endif

#define AppName "Seller Notifier"
#define AppExe "seller-notifier.exe"
; The Run value the app's own "start at sign-in" setting uses as well.
#define RunValue "Seller Notifier"
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"

[Setup]
; Never change AppId: it ties upgrades and the uninstaller to this product.
AppId={{2A5B577E-4C65-412C-8FF2-90196378347E}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Seller Notifier developers
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename=seller-notifier-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
; Close a running tray app (Restart Manager) before files are replaced or removed.
CloseApplications=force
RestartApplications=no

[Tasks]
Name: "autostart"; Description: "Start {#AppName} when I sign in"; GroupDescription: "Start-up:"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Order, payment and review notifications"
Name: "{autoprograms}\{#AppName} (demo)"; Filename: "{app}\{#AppExe}"; Parameters: "--demo"; Comment: "Try {#AppName} with a built-in demo shop"

[Registry]
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#RunValue}"; ValueData: """{app}\{#AppExe}"""; Flags: uninsdeletevalue; Tasks: autostart

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent

[Code]
// The app may have written the Run value itself (its autostart setting), even
// when the task above was not chosen: the uninstaller removes it either way.
// Settings, history and the keyring entry stay: they belong to the user.
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RegDeleteValue(HKEY_CURRENT_USER, '{#RunKey}', '{#RunValue}');
end;
