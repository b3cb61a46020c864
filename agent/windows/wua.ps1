#Requires -Version 5.1
<#
  Patchflow's bridge to the Windows Update Agent API (Microsoft.Update.Session). It does the COM work
  and nothing else: every decision (what a result code means, what runs next, the journal, update loops,
  restarts) is in TypeScript (agent/windows/, domain/wua-*.ts), where it is unit-tested against
  recorded transcripts. It prints one JSON document on stdout and exits 0, or prints
  {"verb":..., "error":{"hresult":..., "message":...}} and exits 1.

  powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File wua.ps1 <verb> [<args.json>]

  Verbs:
    search          IUpdateSearcher.Search("IsInstalled=0 and IsHidden=0") and Search("IsInstalled=1")
    download FILE   IUpdate2.CopyToCache(files) when files are given, then IUpdateDownloader.Download()
    install FILE    IUpdateInstaller.Install(), one row per update from GetUpdateResult(i)
    reboot-pending  the pending-restart registry keys, the last boot time and the console user
    folder-acl FILE the owner and access rules of each folder, by SID (the agent decides who may write)

  Nothing from the server is ever part of a command line: the arguments file (written by the agent)
  holds update ids, checked here again against the GUID pattern, and the paths of files the agent has
  already SHA-256-checked. Standalone .msu and .msi installers are not run from here: the agent spawns
  wusa.exe and msiexec.exe itself with argument arrays.
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true, Position = 0)]
  [ValidateSet('search', 'download', 'install', 'reboot-pending', 'folder-acl', 'services')]
  [string]$Verb,
  [Parameter(Position = 1)]
  [string]$ArgsFile
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$GuidPattern = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

function Write-Json($Object) {
  $json = ConvertTo-Json -InputObject $Object -Depth 6 -Compress
  # Escape everything outside ASCII, so the agent reads the same text whatever the console code page is.
  $ascii = [regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
  [Console]::Out.Write($ascii)
}

function Read-Arguments {
  if (-not $ArgsFile) { throw [System.ArgumentException]::new("the verb $Verb needs an arguments file") }
  $parsed = Get-Content -LiteralPath $ArgsFile -Raw -Encoding UTF8 | ConvertFrom-Json
  $ids = @($parsed.updateIds | ForEach-Object { [string]$_ })
  if ($ids.Count -lt 1) { throw [System.ArgumentException]::new('no update ids in the arguments file') }
  foreach ($id in $ids) {
    if ($id -notmatch $GuidPattern) { throw [System.ArgumentException]::new("not an update id (GUID): $id") }
  }
  $files = @()
  if ($parsed.PSObject.Properties.Name -contains 'files') { $files = @($parsed.files | ForEach-Object { [string]$_ }) }
  if ($files.Count -gt 0 -and $ids.Count -ne 1) { throw [System.ArgumentException]::new('files can be given for one update only') }
  foreach ($f in $files) {
    if (-not (Test-Path -LiteralPath $f -PathType Leaf)) { throw [System.IO.FileNotFoundException]::new("no such file: $f") }
  }
  return @{ updateIds = $ids; files = $files }
}

function New-Session {
  $session = New-Object -ComObject Microsoft.Update.Session
  $session.ClientApplicationID = 'Patchflow'
  return $session
}

function ConvertTo-UpdateRow($Update) {
  return [ordered]@{
    updateId       = [string]$Update.Identity.UpdateID
    revision       = [int]$Update.Identity.RevisionNumber
    title          = [string]$Update.Title
    kbArticleIds   = @($Update.KBArticleIDs | ForEach-Object { [string]$_ })
    isInstalled    = [bool]$Update.IsInstalled
    isHidden       = [bool]$Update.IsHidden
    isDownloaded   = [bool]$Update.IsDownloaded
    rebootRequired = [bool]$Update.RebootRequired
    rebootBehavior = [int]$Update.InstallationBehavior.RebootBehavior
  }
}

# The updates with these ids, in this order, as one UpdateColl (GetUpdateResult(i) is by position).
function Find-Updates($Session, [string[]]$Ids) {
  $searcher = $Session.CreateUpdateSearcher()
  $collection = New-Object -ComObject Microsoft.Update.UpdateColl
  foreach ($id in $Ids) {
    # $id matched the GUID pattern: the criteria string holds nothing else.
    $found = $searcher.Search("UpdateID='$id'")
    if ($found.Updates.Count -ne 1) {
      throw [System.Collections.Generic.KeyNotFoundException]::new("Windows Update does not offer update $id on this machine")
    }
    $update = $found.Updates.Item(0)
    # The operator's approval in Patchflow is the organisation's acceptance, as a WSUS approval is.
    if (-not $update.EulaAccepted) { $update.AcceptEula() }
    [void]$collection.Add($update)
  }
  return , $collection
}

function Invoke-Search {
  $session = New-Session
  $searcher = $session.CreateUpdateSearcher()
  $missing = $searcher.Search('IsInstalled=0 and IsHidden=0')
  $installed = $searcher.Search('IsInstalled=1')
  if ($installed.ResultCode -ne 2 -and $installed.ResultCode -ne 3) {
    throw [System.InvalidOperationException]::new("the search for installed updates ended with result code $($installed.ResultCode)")
  }
  $rows = @()
  foreach ($u in @($missing.Updates)) { $rows += , (ConvertTo-UpdateRow $u) }
  foreach ($u in @($installed.Updates)) { $rows += , (ConvertTo-UpdateRow $u) }
  $drive = [System.IO.DriveInfo]::new($env:SystemDrive)
  Write-Json ([ordered]@{
      verb          = 'search'
      resultCode    = [int]$missing.ResultCode
      updates       = $rows
      freeDiskBytes = [long]$drive.AvailableFreeSpace
    })
}

function Get-Rows($Result, $Updates, [bool]$WithReboot) {
  $rows = @()
  for ($i = 0; $i -lt $Updates.Count; $i++) {
    $r = $Result.GetUpdateResult($i)
    $row = [ordered]@{
      updateId   = [string]$Updates.Item($i).Identity.UpdateID
      resultCode = [int]$r.ResultCode
      hresult    = [int]$r.HResult
    }
    if ($WithReboot) { $row.rebootRequired = [bool]$r.RebootRequired }
    $rows += , $row
  }
  return , $rows
}

function Invoke-Download {
  $a = Read-Arguments
  $session = New-Session
  $updates = Find-Updates $session $a.updateIds
  if ($a.files.Count -gt 0) {
    # The agent downloaded these files and checked their SHA-256 against Patchflow's catalog; WUA checks
    # them again against the update's own digests. Nothing is fetched from the internet a second time.
    $paths = New-Object -ComObject Microsoft.Update.StringColl
    foreach ($f in $a.files) { [void]$paths.Add($f) }
    $updates.Item(0).CopyToCache($paths)
  }
  $downloader = $session.CreateUpdateDownloader()
  $downloader.Updates = $updates
  $result = $downloader.Download()
  Write-Json ([ordered]@{
      verb       = 'download'
      resultCode = [int]$result.ResultCode
      hresult    = [int]$result.HResult
      updates    = (Get-Rows $result $updates $false)
    })
}

function Invoke-Install {
  $a = Read-Arguments
  $session = New-Session
  $updates = Find-Updates $session $a.updateIds
  $installer = $session.CreateUpdateInstaller()
  if ($installer.RebootRequiredBeforeInstallation) {
    Write-Json ([ordered]@{ verb = 'install'; rebootRequiredBeforeInstallation = $true; resultCode = 0; hresult = 0; rebootRequired = $false; updates = @() })
    return
  }
  $installer.ForceQuiet = $true
  $installer.Updates = $updates
  $result = $installer.Install()
  Write-Json ([ordered]@{
      verb                             = 'install'
      rebootRequiredBeforeInstallation = $false
      resultCode                       = [int]$result.ResultCode
      hresult                          = [int]$result.HResult
      rebootRequired                   = [bool]$result.RebootRequired
      updates                          = (Get-Rows $result $updates $true)
    })
}

function Test-NonEmptyValue([string]$Key, [string]$Name) {
  $item = Get-ItemProperty -LiteralPath $Key -ErrorAction SilentlyContinue
  if ($null -eq $item -or -not ($item.PSObject.Properties.Name -contains $Name)) { return $false }
  $value = $item.$Name
  return ($null -ne $value) -and (@($value | Where-Object { $_ }).Count -gt 0)
}

function Invoke-RebootPending {
  $cbs = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing'
  $wu = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate'
  $sessionManager = 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager'
  $servicesPending = "$wu\Services\Pending"
  $updates = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Updates' -ErrorAction SilentlyContinue
  $volatile = $false
  if ($null -ne $updates -and ($updates.PSObject.Properties.Name -contains 'UpdateExeVolatile')) { $volatile = [int]$updates.UpdateExeVolatile -ne 0 }
  $os = Get-CimInstance -ClassName Win32_OperatingSystem
  $computer = Get-CimInstance -ClassName Win32_ComputerSystem
  Write-Json ([ordered]@{
      verb           = 'reboot-pending'
      lastBootUpTime = $os.LastBootUpTime.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")
      loggedOnUser   = $(if ($computer.UserName) { [string]$computer.UserName } else { $null })
      keys           = [ordered]@{
        cbsRebootPending            = (Test-Path -LiteralPath "$cbs\RebootPending")
        cbsRebootInProgress         = (Test-Path -LiteralPath "$cbs\RebootInProgress")
        cbsPackagesPending          = (Test-Path -LiteralPath "$cbs\PackagesPending")
        wuRebootRequired            = (Test-Path -LiteralPath "$wu\Auto Update\RebootRequired")
        wuPostRebootReporting       = (Test-Path -LiteralPath "$wu\Auto Update\PostRebootReporting")
        wuServicesPending           = ((Test-Path -LiteralPath $servicesPending) -and (@(Get-ChildItem -LiteralPath $servicesPending).Count -gt 0))
        pendingFileRenameOperations = ((Test-NonEmptyValue $sessionManager 'PendingFileRenameOperations') -or (Test-NonEmptyValue $sessionManager 'PendingFileRenameOperations2'))
        updateExeVolatile           = $volatile
      }
    })
}

function Invoke-FolderAcl {
  if (-not $ArgsFile) { throw [System.ArgumentException]::new('the verb folder-acl needs an arguments file') }
  $parsed = Get-Content -LiteralPath $ArgsFile -Raw -Encoding UTF8 | ConvertFrom-Json
  $rows = @()
  foreach ($folder in @($parsed.folders | ForEach-Object { [string]$_ })) {
    if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
      $rows += , ([ordered]@{ path = $folder; exists = $false; ownerSid = $null; rules = @() })
      continue
    }
    $acl = Get-Acl -LiteralPath $folder
    $owner = $acl.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    $rules = @()
    foreach ($r in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
      $rules += , ([ordered]@{
          sid         = [string]$r.IdentityReference.Value
          allow       = ($r.AccessControlType -eq [System.Security.AccessControl.AccessControlType]::Allow)
          rights      = [long][int]$r.FileSystemRights
          inheritOnly = (($r.PropagationFlags -band [System.Security.AccessControl.PropagationFlags]::InheritOnly) -ne 0)
        })
    }
    $rows += , ([ordered]@{ path = $folder; exists = $true; ownerSid = $owner; rules = $rules })
  }
  Write-Json ([ordered]@{ verb = 'folder-acl'; folders = $rows })
}

# A health check (services running) and the Patch Test (start types): Get-Service for each name of the arguments file. Names are checked
# again here (no wildcard can reach Get-Service), and nothing else is read from the server.
function Invoke-Services {
  if (-not $ArgsFile) { throw [System.ArgumentException]::new('the verb services needs an arguments file') }
  $parsed = Get-Content -LiteralPath $ArgsFile -Raw -Encoding UTF8 | ConvertFrom-Json
  $rows = @()
  foreach ($name in @($parsed.services | ForEach-Object { [string]$_ })) {
    if ($name -notmatch '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,79}$') { throw [System.ArgumentException]::new("not a service name: $name") }
    $svc = Get-Service -Name $name -ErrorAction SilentlyContinue
    if ($null -eq $svc) { $rows += , ([ordered]@{ name = $name; found = $false; status = $null; startType = $null }) }
    else { $rows += , ([ordered]@{ name = $name; found = $true; status = [string]$svc.Status; startType = [string]$svc.StartType }) }
  }
  Write-Json ([ordered]@{ verb = 'services'; services = $rows })
}

try {
  switch ($Verb) {
    'search' { Invoke-Search }
    'download' { Invoke-Download }
    'install' { Invoke-Install }
    'reboot-pending' { Invoke-RebootPending }
    'folder-acl' { Invoke-FolderAcl }
    'services' { Invoke-Services }
  }
  exit 0
}
catch {
  Write-Json ([ordered]@{ verb = $Verb; error = [ordered]@{ hresult = [int]$_.Exception.HResult; message = [string]$_.Exception.Message } })
  exit 1
}
